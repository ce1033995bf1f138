"""`opentrade db status|migrate|copy`: the database's schema, and moving a home's history.

`status` only reads. `migrate` applies the migrations this OpenTrade ships (the engine does
the same when it starts; the command lets a deployment do it first, e.g. with a role allowed
to change the schema) and holds the engine lock while it does. `copy --from SOURCE --to
TARGET` copies everything from one database into an empty one and verifies the audit chain on
the target (``core.storage.copy``); it locks the target as an engine would. Databases are
written ``sqlite:PATH`` or ``postgresql://user@host[:port]/database``; the PostgreSQL password
comes from OPENTRADE_DB_PASSWORD or the secrets file, as for ``storage.url``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from cli.main import CommandContext

if TYPE_CHECKING:
    from core.storage.copy import CopyReport
    from core.storage.dialect import Conn
    from core.storage.link import Link
    from core.storage.target import StorageTarget


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="the database: schema version, migrations, copying a home's history")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="the database in use, its schema version and pending migrations")
    status.set_defaults(handler=handle_status)
    migrate = actions.add_parser("migrate", help="apply the pending schema migrations (the engine must be stopped)")
    migrate.set_defaults(handler=handle_migrate)
    copy = actions.add_parser("copy", help="copy a home's whole history into an empty database, then verify it")
    copy.add_argument("--from", dest="source", required=True, metavar="DATABASE",
                      help="sqlite:PATH or postgresql://user@host/database")
    copy.add_argument("--to", dest="target", required=True, metavar="DATABASE",
                      help="an empty database: postgresql://user@host/database or sqlite:PATH")
    copy.set_defaults(handler=handle_copy)


def _status_rows(conn: Conn) -> list[tuple[str, str]]:
    from core.storage.audit import recorded_head
    from core.storage.dialect import PARTITIONED
    from core.storage.migrations import bundled_migrations, current_version

    migrations = bundled_migrations(conn.dialect)
    version, latest = current_version(conn), migrations[-1].version
    if version > latest:
        schema = f"version {version}, newer than this OpenTrade understands (up to {latest}): upgrade OpenTrade"
    elif version == latest:
        schema = f"version {version} of {latest}, up to date"
    else:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in migrations[version:])
        schema = f"version {version} of {latest}: pending {names} (`opentrade db migrate`, or start the engine)"
    rows = [("schema", schema)]
    head = recorded_head(conn) if version else None
    rows.append(("audit log", f"{head[0]:,} entries, head {head[1][:16]}..." if head else "empty"))
    if conn.dialect == "postgresql" and version:
        for table in PARTITIONED:
            rows.append((table, _layout(conn, table)))
    return rows


def _layout(conn: Conn, table: str) -> str:
    partitioned = conn.execute(
        "SELECT COUNT(*), MIN(c.relname), MAX(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(?)", (table,)
    ).fetchone()
    if conn.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(?)", (table,)).fetchone():
        count, first, last = partitioned
        span = f", {first} to {last}" if count else ""
        return f"partitioned by month: {count} partition{'s' if count != 1 else ''}{span}"
    return "a TimescaleDB hypertable" if partitioned[0] else "one table"


def _storage(ctx: CommandContext) -> StorageTarget:
    return ctx.storage(ctx.load_config())


async def _with(storage: StorageTarget, write: bool, fn: Any, *args: Any) -> Any:
    link = await storage.link(write=write)
    try:
        return await link.run(fn, *args)
    finally:
        await link.close()


def handle_status(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = _storage(ctx)
    if not storage.exists():
        raise SystemExit(f"no database at {storage}: nothing has run with this home yet")
    rows = asyncio.run(_with(storage, False, _status_rows))
    kind = "PostgreSQL" if storage.is_postgres else "SQLite"
    print(f"database   {storage} ({kind})")
    for name, value in rows:
        print(f"{name:<10} {value}")
    return 0


def _migrate(conn: Conn, ts: int) -> tuple[int, int]:
    from core.storage.migrations import bundled_migrations, current_version, migrate

    before = current_version(conn)
    return before, migrate(conn, bundled_migrations(conn.dialect), ts)


def handle_migrate(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.clock import WallClock
    from core.storage.migrations import bundled_migrations

    config = ctx.load_config()
    storage = ctx.storage(config)
    if storage.path is not None:
        storage.path.parent.mkdir(parents=True, exist_ok=True)
    with ctx.lock_engine(config):
        before, after = asyncio.run(_with(storage, True, _migrate, WallClock().now_ms()))
    if before == after:
        print(f"{storage}: schema version {after}, up to date")
        return 0
    applied = bundled_migrations("postgresql" if storage.is_postgres else "sqlite")[before:after]
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print(f"{storage}: schema version {after}")
    return 0


def handle_copy(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.home_lock import lock_database
    from core.secrets import database_password
    from core.storage.target import StorageTarget

    config = ctx.load_config()
    password = database_password(config.secrets_file)
    source, target = StorageTarget.parse(args.source, password), StorageTarget.parse(args.target, password)
    if str(source) == str(target):
        raise SystemExit(f"--from and --to are the same database ({source})")
    if not source.exists():
        raise SystemExit(f"--from {source}: no such database file")
    if target.path is not None and not target.path.parent.is_dir():
        raise SystemExit(f"--to {target}: the directory {target.path.parent} does not exist")
    with lock_database(target.lock(), ctx.command):
        report = asyncio.run(_copy(source, target))
    _print_copy(source, target, report)
    return 0


async def _copy(source: StorageTarget, target: StorageTarget) -> CopyReport:
    from core.clock import WallClock
    from core.storage.copy import copy_database

    links: list[Link] = []
    try:
        links.append(await source.link())
        links.append(await target.link(write=True))
        return await copy_database(links[0], links[1], WallClock().now_ms(), _progress)
    finally:
        for link in links:
            await link.close()


def _progress(table: str, rows: int) -> None:
    """On a terminal, the table being copied and its rows so far, on one line rewritten."""
    if sys.stderr.isatty():
        print(f"\rcopying {table}: {rows:,} rows".ljust(60), end="", file=sys.stderr, flush=True)


def _print_copy(source: StorageTarget, target: StorageTarget, report: CopyReport) -> None:
    if sys.stderr.isatty():
        print("\r".ljust(61), end="\r", file=sys.stderr)
    print(f"copied {source} to {target}:")
    for table, rows in report.rows.items():
        print(f"  {table:<18} {rows:>12,} rows")
    verification = report.verification
    if report.head is not None and verification is not None:
        print(f"audit chain verified on the target: {verification.checked:,} entries, ending at entry "
              f"{report.head[0]} as in the source")
    else:
        print("the audit log is empty on both")
    if target.is_postgres:
        print(f"to use it: set storage.url: {target} in the config (the password from OPENTRADE_DB_PASSWORD "
              "or the secrets file); the home's audit-anchor stays valid, the chain is the same")
