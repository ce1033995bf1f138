"""`opentrade backup PATH`: a consistent copy of the database, taken while the engine may run.

It only reads the home: SQLite's backup API copies the database as one read transaction sees
it, so it needs no lock and works beside a running engine. The copy is verified (quick_check,
the whole audit chain, against the home's anchor) before it is kept, written 0600 with its
audit anchor beside it (PATH.audit-anchor). PATH may be a directory: the copy gets a dated name.

A PostgreSQL database (``storage.url``) is dumped with pg_dump, of one snapshot whose audit
chain was verified first (``core.storage.pg_backup``), with the same anchor beside it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from cli.main import CommandContext
from core.storage.anchor import ANCHOR_NAME, read_anchor
from core.storage.backup import backup_database
from core.storage.errors import StorageError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("backup", help="copy the database, verified, with its audit anchor (the engine may run)")
    parser.add_argument("path", type=Path, metavar="PATH", help="the copy to write, or a directory to write it in")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = ctx.storage(ctx.load_config())
    anchor_file = ctx.home / ANCHOR_NAME
    if storage.url is not None:
        return _dump(storage.url, storage.password, str(storage), args.path, anchor_file)
    source = storage.path
    assert source is not None  # a target without a URL is a file
    if not source.exists():
        raise SystemExit(f"no database at {source}: nothing has run with this home yet")
    target: Path = args.path
    if target.is_dir():
        target = target / f"opentrade-{datetime.now(UTC):%Y%m%d-%H%M%S}.sqlite"
    try:
        report = backup_database(source, target, read_anchor(anchor_file))
    except StorageError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"{source} copied to {report.path} ({report.size:,} bytes); copy verified: {report.entries} audit entries")
    if report.anchor is not None and report.head is not None:
        print(f"its audit anchor (entry {report.head[0]}) is in {report.anchor}")
        print(f"to restore, with OpenTrade stopped: remove {source}-wal and {source}-shm if present, copy "
              f"{report.path} to {source} and {report.anchor} to {anchor_file}")
    return 0


def _dump(url: str, password: str | None, where: str, path: Path, anchor_file: Path) -> int:
    from core.storage.pg_backup import backup_postgres

    target = path / f"opentrade-{datetime.now(UTC):%Y%m%d-%H%M%S}.dump" if path.is_dir() else path
    try:
        report = backup_postgres(url, password, target, read_anchor(anchor_file))
    except StorageError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"{where} dumped to {report.path} ({report.size:,} bytes, pg_dump custom format) from a snapshot "
          f"verified: {report.entries} audit entries")
    if report.anchor is not None and report.head is not None:
        print(f"its audit anchor (entry {report.head[0]}) is in {report.anchor}")
        print(f"to restore, with OpenTrade stopped: create an empty database, pg_restore --no-owner --dbname "
              f"<its URL> {report.path}, set storage.url to it and copy {report.anchor} to {anchor_file}")
    return 0
