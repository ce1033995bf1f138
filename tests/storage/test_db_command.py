"""`opentrade db status|migrate|copy`: a home's whole history moved from its SQLite file into
PostgreSQL and back, verified on the target; a target with history refused; a copy that does
not verify not kept; the schema shown and migrated on both back ends."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from cli.main import main
from core.models import Balance, Candle, OrderStatus
from core.storage import Database
from core.storage.anchor import read_anchor
from tests.backends import PostgresStore, SqliteStore, Store
from tests.postgres_server import PASSWORD, PostgresServer
from tests.storage.conftest import T0, make_fill, make_order
from tests.storage.tamper import rewrite_chain

MONTH_MS = 31 * 86_400_000


async def _history(db: Database) -> None:
    """A little of everything a home keeps, over three months."""
    for n in range(1, 6):
        order = make_order(n, created_ts=T0 + n * MONTH_MS, updated_ts=T0 + n * MONTH_MS)
        await db.record_order(order, "created", new=True)
        order.transition(OrderStatus.OPEN, order.updated_ts + 1)
        await db.record_order(order, "open")
    for n in range(1, 4):
        await db.record_fill(make_fill(n, ts=T0 + n * MONTH_MS))
    candles = [Candle(ts=T0 + 3_600_000 * i, open=1.5, high=2.0, low=1.0, close=1.25, volume=0.1 * i) for i in range(800)]
    await db.save_candles("paper", "BTC/USDT", "1h", candles)
    await db.save_strategy_version("grid", {"levels": 10, "step": Decimal("0.5")}, "first", ts=T0)
    await db.snapshot_balances("paper", [Balance(asset="USDT", free=Decimal("9000.5"))], ts=T0)
    await db.set_state("theme", "nord")


async def _write_history(store: Store, anchor: Path | None = None) -> None:
    db = await store.open(anchor=anchor)
    await _history(db)
    await db.close()


async def _snapshot(store: Store) -> dict[str, object]:
    db = await store.open()
    try:
        return {
            "orders": await db.load_orders(), "fills": await db.load_fills(),
            "events": await db.order_events("ot-test-0003"), "audit": await db.audit_entries(limit=1000),
            "candles": await db.load_candles("paper", "BTC/USDT", "1h"), "versions": await db.strategy_versions("grid"),
            "balances": await db.latest_balances("paper"),
            "theme": await db.get_state("theme"), "head": await db.audit_head(),
        }
    finally:
        await db.close()


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENTRADE_DB_PASSWORD", PASSWORD)


def test_a_home_moves_to_postgresql_and_back_whole(
    isolated_home: Path, postgres_url: str, fresh_store: Store, password: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home_db, anchor = SqliteStore(isolated_home / "opentrade.sqlite"), isolated_home / "audit-anchor"
    asyncio.run(_write_history(home_db, anchor))
    before = asyncio.run(_snapshot(home_db))

    target = PostgresStore(postgres_url)
    assert main(["db", "copy", "--from", f"sqlite:{home_db.path}", "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert f"copied {home_db.path} to {postgres_url}:" in out
    assert "  orders                        5 rows" in out and "  candles                     800 rows" in out
    entries = len(before["audit"])  # type: ignore[arg-type]
    assert f"audit chain verified on the target: {entries} entries, ending at entry {entries} as in the source" in out
    assert asyncio.run(_snapshot(target)) == before
    assert asyncio.run(_continue(target, anchor)) == entries + 2
    assert read_anchor(anchor).seq == entries + 2  # type: ignore[union-attr]

    back = SqliteStore(tmp_path / "back.sqlite") if fresh_store.kind == "sqlite" else fresh_store
    assert main(["db", "copy", "--from", postgres_url, "--to", back.location]) == 0
    capsys.readouterr()
    assert asyncio.run(_snapshot(back)) == asyncio.run(_snapshot(target))


async def _continue(store: Store, anchor: Path) -> int:
    """The copy opened with the home's anchor (which holds for it), taking new history where
    the copy ended; how many entries its chain then has."""
    db = await store.open(anchor=anchor)
    await db.record_order(make_order(9), "created", new=True)
    await db.record_fill(make_fill(9, ts=T0))
    await db.snapshot_balances("paper", [Balance(asset="USDT", free=Decimal("1"))], ts=T0 + 1)
    checked = (await db.verify_audit()).checked
    await db.close()
    return checked


def test_a_target_with_history_is_refused_and_left_as_it_was(
    isolated_home: Path, postgres_url: str, password: None, capsys: pytest.CaptureFixture[str]
) -> None:
    source = SqliteStore(isolated_home / "opentrade.sqlite")
    asyncio.run(_write_history(source))
    target = PostgresStore(postgres_url)
    asyncio.run(_note(target))
    assert main(["db", "copy", "--from", source.location, "--to", postgres_url]) == 1
    err = capsys.readouterr().err
    assert "the target already holds history (1 rows in audit_head, 1 rows in audit_log, 1 rows in candles): " \
        "copy into an empty database" in err
    assert target.rows("SELECT COUNT(*) FROM orders") == [(0,)]


async def _note(store: Store) -> None:
    db = await store.open()
    await db.audit("note", {})
    await db.save_candles("paper", "BTC/USDT", "1h", [Candle(ts=T0, open=1, high=1, low=1, close=1, volume=1)])
    await db.close()


def test_a_copy_whose_chain_does_not_verify_is_not_kept(
    isolated_home: Path, postgres_url: str, password: None, capsys: pytest.CaptureFixture[str]
) -> None:
    source = SqliteStore(isolated_home / "opentrade.sqlite")
    asyncio.run(_write_history(source))
    source.tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    assert main(["db", "copy", "--from", source.location, "--to", postgres_url]) == 1
    err = capsys.readouterr().err
    assert "the copied audit log does not verify, nothing was kept: audit entry 3 was altered" in err
    target = PostgresStore(postgres_url)
    assert target.rows("SELECT (SELECT COUNT(*) FROM audit_log) + (SELECT COUNT(*) FROM candles)") == [(0,)]
    # the target was left empty, so the copy can be run again (here of a chain rewritten with
    # fresh hashes, which verifies on its own: the home's anchor is what catches that)
    payload = source.rows("SELECT payload FROM audit_log WHERE seq = 3")[0][0].replace("mallory", "engine")
    rewrite_chain(source, 3, payload)
    assert main(["db", "copy", "--from", source.location, "--to", postgres_url]) == 0


def test_copy_refuses_what_it_cannot_use(isolated_home: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no such database file"):
        main(["db", "copy", "--from", f"sqlite:{tmp_path / 'none.sqlite'}", "--to", f"sqlite:{tmp_path / 'x.sqlite'}"])
    with pytest.raises(SystemExit, match="are the same database"):
        main(["db", "copy", "--from", "postgresql://u@h/d", "--to", "postgresql://u@h/d"])


def test_status_and_migrate_on_both_back_ends(
    fresh_store: Store, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "url" if fresh_store.kind == "postgresql" else "path"
    (isolated_home / "config.yaml").write_text(f"storage:\n  {key}: {fresh_store.location}\n")
    monkeypatch.setenv("OPENTRADE_DB_PASSWORD", PASSWORD)
    if fresh_store.kind == "sqlite":
        with pytest.raises(SystemExit, match="no database at .*nothing has run with this home yet"):
            main(["db", "status"])
        fresh_store.rows("CREATE TABLE IF NOT EXISTS probe (x)")  # an empty file, as a person might leave
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert f"database   {fresh_store.location} ({'PostgreSQL' if key == 'url' else 'SQLite'})" in out
    assert ("schema     version 0 of 8: pending 0001_initial, 0002_portfolio_and_settings, 0003_audit_head, "
            "0004_protective_levels, 0005_market_data, 0006_funding_payments, 0007_drop_audit_ts, "
            "0008_partial_indexes") in out
    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "applied 0001_initial\napplied 0002_portfolio_and_settings\napplied 0003_audit_head\napplied 0004_protective_levels\n" in out
    asyncio.run(_note(fresh_store))
    assert main(["db", "migrate"]) == 0
    assert "schema version 8, up to date" in capsys.readouterr().out
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "schema     version 8 of 8, up to date" in out and "audit log  1 entries" in out
    if key == "url":
        assert "candles    partitioned by month: 1 partition, candles_2024_01 to candles_2024_01" in out


def test_backup_dumps_a_verified_snapshot_that_restores_with_its_anchor(
    isolated_home: Path, postgres_url: str, postgres_server: PostgresServer, password: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (isolated_home / "config.yaml").write_text(f"storage:\n  url: {postgres_url}\n")
    source = PostgresStore(postgres_url)
    asyncio.run(_write_history(source, isolated_home / "audit-anchor"))
    dump = isolated_home / "monday.dump"
    assert main(["backup", str(dump)]) == 0
    out = capsys.readouterr().out
    entries = source.rows("SELECT COUNT(*) FROM audit_log")[0][0]
    assert f"dumped to {dump}" in out and f"from a snapshot verified: {entries} audit entries" in out
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert main(["backup", str(dump)]) == 1 and "already exists" in capsys.readouterr().err

    restored = PostgresStore(postgres_server.url(postgres_server.new_database()))
    done = subprocess.run(["pg_restore", "--no-owner", "--dbname", restored.url, str(dump)], capture_output=True,
                          text=True, env={**os.environ, "PGPASSWORD": PASSWORD})
    assert done.returncode == 0, done.stderr
    restored_anchor = Path(f"{dump}.audit-anchor")
    assert asyncio.run(_snapshot(restored)) == asyncio.run(_snapshot(source))
    assert asyncio.run(_continue(restored, restored_anchor)) == entries + 2


def test_backup_refuses_a_broken_chain_and_keeps_nothing(
    isolated_home: Path, postgres_url: str, password: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated_home / "config.yaml").write_text(f"storage:\n  url: {postgres_url}\n")
    source = PostgresStore(postgres_url)
    asyncio.run(_write_history(source))
    source.tamper("DELETE FROM audit_log WHERE seq = 2")
    assert main(["backup", str(isolated_home / "copy.dump")]) == 1
    err = capsys.readouterr().err
    assert "backup failed: the audit log of" in err
    assert "broken at entry 2: audit entry 2 is missing (entry 3 follows entry 1); no copy was kept" in err
    assert [p.name for p in isolated_home.iterdir() if "copy" in p.name] == []
