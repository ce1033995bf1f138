"""Schema versions: applied once, in order, atomically, from one list with a SQLite and a
PostgreSQL form of each; newer databases are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import SimClock
from core.models import OrderStatus
from core.storage import Database, SchemaTooNewError, StorageError
from core.storage.dialect import Conn
from core.storage.migrations import Migration, bundled_migrations, current_version, migrate
from tests.backends import Store
from tests.storage.conftest import T0, make_order

# What only the PostgreSQL form has: the claims that keep a partitioned table's ids unique, and
# the insertion order SQLite keeps as its rowid.
PG_ONLY_TABLES = {"fill_ids"}
PG_ONLY_COLUMNS = {"rowid"}


async def test_fresh_database_gets_every_migration(fresh_store: Store, clock: SimClock) -> None:
    db = await fresh_store.open(clock=clock)
    latest = bundled_migrations()[-1].version
    assert db.schema_version == latest
    await db.close()
    rows = fresh_store.rows("SELECT version, applied_ts FROM schema_migrations ORDER BY version")
    assert rows == [(v, clock.now_ms()) for v in range(1, latest + 1)]
    if fresh_store.kind == "sqlite":
        assert fresh_store.rows("PRAGMA journal_mode") == [("wal",)]


async def test_reopen_applies_nothing_again(store: Store) -> None:
    await (await store.open()).close()
    db = await store.open()
    assert db.schema_version == bundled_migrations()[-1].version
    await db.close()
    assert store.rows("SELECT COUNT(*) FROM schema_migrations") == [(db.schema_version,)]


async def test_newer_database_is_refused_with_a_clear_message(store: Store) -> None:
    await (await store.open()).close()
    store.rows("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)")
    with pytest.raises(SchemaTooNewError, match="schema version 99 .* understands versions up to"):
        await store.open()


def _tables(conn: Conn) -> set[str]:
    return {name for name in ("a", "b") if conn.table_exists(name)}


async def test_failed_migration_leaves_no_trace(fresh_store: Store) -> None:
    link = await fresh_store.link()
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    try:
        with pytest.raises(StorageError, match="0002_bad failed: .*nowhere"):
            await link.run(migrate, [good, bad], 0)
        assert await link.run(current_version) == 1
        assert await link.run(_tables) == {"a"}
        assert await link.run(migrate, [good], 0) == 1
    finally:
        await link.close()


def test_every_migration_has_a_postgresql_form() -> None:
    sqlite_list = [(m.version, m.name) for m in bundled_migrations("sqlite")]
    assert [(m.version, m.name) for m in bundled_migrations("postgresql")] == sqlite_list


def _columns(store: Store) -> dict[str, set[str]]:
    if store.kind == "sqlite":
        tables = [row[0] for row in store.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: {row[1] for row in store.rows(f"PRAGMA table_info({t})")} for t in tables}
    rows = store.rows(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = to_regnamespace(c.table_schema) "
        "WHERE c.table_schema = current_schema() AND NOT k.relispartition"
    )
    found: dict[str, set[str]] = {}
    for table, column in rows:
        if table not in PG_ONLY_TABLES:
            found.setdefault(table, set()).add(column)
    return {table: columns - PG_ONLY_COLUMNS for table, columns in found.items()}


async def test_both_forms_leave_the_same_tables_and_columns(postgres_url: str, tmp_path: Path) -> None:
    from tests.backends import PostgresStore, SqliteStore

    sqlite_store, postgres_store = SqliteStore(tmp_path / "same.db"), PostgresStore(postgres_url)
    await (await sqlite_store.open()).close()
    assert _columns(postgres_store) == _columns(sqlite_store)


async def test_bad_options_and_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="synchronous must be one of FULL, NORMAL"):
        await Database.open(tmp_path / "x.db", synchronous="OFF")
    with pytest.raises(StorageError, match="the directory .*dir does not exist"):
        await Database.open(tmp_path / "no" / "such" / "dir" / "x.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError, match="junk.db is damaged: file is not a database"):
        await Database.open(junk)


async def test_upgrade_records_the_head_of_an_existing_log(store: Store) -> None:
    db = await store.open()
    for n in range(3):
        await db.audit("note", {"n": n})
    await db.close()
    store.rows("DROP TABLE audit_head")  # back to a version 2 database: migrations 3 and later undone
    for table in ("protective_levels", "funding_rates", "market_stats", "funding_payments"):
        store.rows(f"DROP TABLE {table}")
    store.rows("DELETE FROM schema_migrations WHERE version >= 3")
    upgraded = await store.open()
    assert store.rows("SELECT seq FROM audit_head") == [(3,)]
    assert (await upgraded.verify_audit()).ok
    await upgraded.audit("note", {"n": 3})
    result = await upgraded.verify_audit()
    assert result.ok and result.checked == 4
    await upgraded.close()



def _indexes(store: Store, table: str) -> set[str]:
    if store.kind == "sqlite":
        return {row[0] for row in store.rows(f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}'")}
    return {row[0] for row in store.rows(f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' "
                                         "AND schemaname = current_schema()")}


async def test_upgrade_drops_the_audit_index_sqlite_never_used(store: Store) -> None:
    """SQLite walks seq even for a filter on ts; PostgreSQL's planner uses the index, and keeps it."""
    db = await store.open()
    for n in range(3):
        await db.audit("note", {"n": n})
    await db.close()
    store.rows("CREATE INDEX IF NOT EXISTS audit_ts ON audit_log (ts)")  # back to a version 6 database
    store.rows("DELETE FROM schema_migrations WHERE version >= 7")
    upgraded = await store.open()
    kept = {"audit_kind", "audit_symbol"} | ({"audit_ts"} if store.kind == "postgresql" else set())
    assert _indexes(store, "audit_log") - {"audit_log_pkey"} == kept
    await upgraded.audit("note", {"n": 3})
    assert [e.payload["n"] for e in await upgraded.audit_entries(since_ms=0)] == [0, 1, 2, 3]
    result = await upgraded.verify_audit()
    assert result.ok and result.checked == 4
    await upgraded.close()


async def test_upgrade_keeps_rows_no_query_looks_for_out_of_three_indexes(store: Store) -> None:
    """orders_open holds the open orders alone, orders_strategy the orders of a strategy,
    audit_kind the entries of kinds other than orders; the reads they serve find the same rows,
    and SQLite's plans for the open orders and for another kind's entries use them."""
    db = await store.open()
    placed = [make_order(1), make_order(2, strategy_id="grid-1"), make_order(3, strategy_id="grid-1")]
    for order in placed:
        await db.record_order(order, "created", new=True)
    placed[1].transition(OrderStatus.CANCELED, T0 + 10)
    await db.record_order(placed[1], "canceled")
    await db.audit("agent_decision", {"n": 1})
    await db.close()
    for name, columns in (("orders_open", "orders (is_open, venue, symbol)"),  # back to a version 7 database
                          ("orders_strategy", "orders (strategy_id, created_ts)"), ("audit_kind", "audit_log (kind, seq)")):
        store.rows(f"DROP INDEX {name}")
        store.rows(f"CREATE INDEX {name} ON {columns}")
    store.rows("DELETE FROM schema_migrations WHERE version >= 8")
    upgraded = await store.open()
    definitions = (store.rows("SELECT name, sql FROM sqlite_master WHERE type = 'index'") if store.kind == "sqlite"
                   else store.rows("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
    where = {name: str(sql).split(" WHERE ")[-1].strip("()") for name, sql in definitions if " WHERE " in str(sql)}
    assert {name: text.replace("::text", "") for name, text in where.items()} == {
        "orders_open": "is_open", "orders_strategy": "strategy_id IS NOT NULL", "audit_kind": "kind <> 'order'"}

    sent: list[tuple[Any, ...]] = []
    read = upgraded._reader.run

    async def spy(fn: Any, *args: Any) -> Any:
        sent.append(args)
        return await read(fn, *args)

    def plan() -> str:
        sql, params = sent[-1][:2]
        return " ".join(row[3] for row in store.rows("EXPLAIN QUERY PLAN " + sql, params))

    upgraded._reader.run = spy  # type: ignore[method-assign]
    assert [o.client_order_id for o in await upgraded.load_orders(open_only=True)] == ["ot-test-0001", "ot-test-0003"]
    if store.kind == "sqlite":
        assert "USING INDEX orders_open" in plan() and "TEMP B-TREE" not in plan()
    assert [e.payload for e in await upgraded.audit_entries(kind="agent_decision")] == [{"n": 1}]
    if store.kind == "sqlite":
        assert "INDEX audit_kind" in plan()
    assert [e.payload["event"] for e in await upgraded.audit_entries(kind="order")] == ["created"] * 3 + ["canceled"]
    assert [o.client_order_id for o in await upgraded.load_orders(strategy_id="grid-1")] == [
        "ot-test-0002", "ot-test-0003"]
    assert [o.client_order_id for o in await upgraded.load_orders(open_only=True, strategy_id="grid-1")] == [
        "ot-test-0003"]
    await upgraded.close()
