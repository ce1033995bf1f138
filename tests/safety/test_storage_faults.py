"""Storage failing under a running engine: a full disk, the database file deleted or replaced.
Trading halts with the reason, a critical alert goes out, what can still be kept is kept, and
the engine still shuts down cleanly. Once a day the audit chain's head goes out with the
notifications."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import NotificationsConfig, NotifierConfig
from core.engine import TradingEngine
from core.executor import OrderRefused
from core.faults import DISK_FULL_AT
from core.models import RiskState
from core.storage import Database, StorageError, verify_audit_file
from core.storage.anchor import anchor_text
from tests.safety.conftest import EngineFactory, limit, settle, until
from tests.safety.fakes import FakeHttp

DAY_MS = 86_400_000


def with_webhook(http: FakeHttp) -> NotificationsConfig:
    return NotificationsConfig(channels=[NotifierConfig(type="webhook", url=f"http://127.0.0.1:{http.port}/hook")])


def storage_alerts(engine: TradingEngine) -> list[str]:
    return [f"{a.level} {a.rule}: {a.message}" for a in engine.recent_alerts() if a.rule.startswith("storage")]


async def test_a_full_disk_halts_trading_alerts_and_the_engine_still_closes(
    make_engine: EngineFactory, isolated_home: Path, http: FakeHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await make_engine(notifications=with_webhook(http))
    resting = await engine.place_order(limit(engine))
    monkeypatch.setitem(DISK_FULL_AT, "commit", 1)
    with pytest.raises(StorageError, match="database or disk is full"):
        await engine.place_order(limit(engine, offset="0.97"))
    assert engine.risk.state is RiskState.HALTED
    assert engine.risk.state_reason == "storage failure: database write failed: database or disk is full"
    assert storage_alerts(engine) == [
        "critical storage_failure: database write failed: database or disk is full; trading is halted until "
        "the storage is fixed and the risk state reset"
    ]
    assert [o.client_order_id for o in engine.open_orders()] == [resting.client_order_id], "not written, not open"
    with pytest.raises(OrderRefused, match="trading is halted \\(storage failure"):
        await engine.place_order(limit(engine, offset="0.96"))
    assert await engine.notifications.flush() >= 1  # the alert leaves although its queue cannot be saved
    assert any("database or disk is full" in payload["body"] for _, payload in http.requests)

    await engine.close()  # the disk still full
    with pytest.raises(StorageError, match="closed"):
        await engine.db.get_state("risk_state")
    monkeypatch.delitem(DISK_FULL_AT, "commit")
    reopened = await Database.open(engine.db.path, anchor=isolated_home / "audit-anchor")
    assert [o.client_order_id for o in await reopened.load_orders()] == [resting.client_order_id]
    assert (await reopened.verify_audit()).ok
    await reopened.close()


async def test_the_database_deleted_under_the_engine_halts_it_and_its_history_is_saved(
    make_engine: EngineFactory, isolated_home: Path, clock: SimClock
) -> None:
    engine = await make_engine()
    order = await engine.place_order(limit(engine))
    path = engine.db.path
    path.unlink()
    clock.advance(1_000)  # the watch looks every second
    await until(lambda: len(storage_alerts(engine)) == 2, "the halt and the rescue")
    assert engine.risk.state is RiskState.HALTED
    assert engine.risk.state_reason == f"storage failure: the database file {path} was deleted while OpenTrade was running"
    [rescued] = isolated_home.glob("opentrade.sqlite.rescued-*")
    assert storage_alerts(engine)[1] == (
        f"critical storage_rescued: what the engine had written is saved in {rescued}: stop OpenTrade, then put it "
        f"in place of {path}"
    )
    with pytest.raises(OrderRefused, match="halted"):
        await engine.place_order(limit(engine, offset="0.97"))
    await engine.close()

    assert (await verify_audit_file(rescued)).ok
    raw = sqlite3.connect(rescued)
    assert raw.execute("SELECT status FROM orders WHERE client_order_id = ?", (order.client_order_id,)).fetchone() == ("open",)
    assert raw.execute("SELECT actor FROM audit_log WHERE kind = 'storage_failure'").fetchone() == ("storage",)
    raw.close()
    shutil.move(rescued, path)  # as the alert says: the history is back, and it agrees with the anchor
    engine = await make_engine()
    assert [o.client_order_id for o in engine.open_orders()] == [order.client_order_id]


async def test_the_database_replaced_under_the_engine_halts_it(
    make_engine: EngineFactory, isolated_home: Path, clock: SimClock, tmp_path: Path
) -> None:
    engine = await make_engine()
    await settle()  # the watch is waiting for its next look
    path = engine.db.path
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    os.replace(other, path)
    clock.advance(1_000)
    await until(lambda: len(storage_alerts(engine)) == 2, "the halt and the rescue")
    assert engine.risk.state_reason == (
        f"storage failure: the database file {path} was replaced by another file while OpenTrade was running"
    )
    assert path.stat().st_size == 0, "the file put in its place is left alone"
    await engine.close()
    assert path.stat().st_size == 0
    assert len(list(isolated_home.glob("opentrade.sqlite.rescued-*"))) == 1


async def test_the_audit_head_goes_out_once_a_day(make_engine: EngineFactory, clock: SimClock, http: FakeHttp) -> None:
    engine = await make_engine(notifications=with_webhook(http))

    def heads() -> list[str]:
        """The anchor lines sent, alone or in a batch with other messages."""
        return [line for _, payload in http.requests for line in payload["body"].splitlines() if line.startswith('{"seq"')]

    clock.advance(5_000)  # the first batch of the day
    await until(lambda: len(heads()) == 1, "the day's audit head")
    sent = json.loads(heads()[0])
    seq, digest = sent["seq"], sent["hash"]
    assert {entry.seq: entry.hash for entry in await engine.db.audit_entries()}[seq] == digest
    assert heads()[0] == anchor_text(seq, digest).strip(), "the anchor file's own line"
    assert "opentrade audit verify --anchor FILE" in http.requests[0][1]["body"]
    clock.advance(3_600_000)
    await engine.place_order(limit(engine))
    await engine.notifications.send_audit_head()
    assert not [p for p in engine.notifications.queue if p.title == "audit log head"], "once a day"
    clock.set((clock.now_ms() // DAY_MS + 1) * DAY_MS)
    clock.advance(5_000)
    await until(lambda: len(heads()) == 2, "the next day's audit head")
    assert json.loads(heads()[1])["seq"] > seq
