"""The audit log: a verifiable hash chain that refuses edits and shows tampering."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.clock import SimClock
from core.models import Fill, Order
from core.redact import register_secret
from core.storage import Database, StorageError, export_audit, verify_audit_file
from core.storage.audit import GENESIS_HASH, entry_hash, record_text
from core.storage.codec import canonical_json, flat_dump, sorted_flat_json
from core.storage.ops import ORDER_PAYLOAD_KEYS
from tests.backends import Store
from tests.storage.conftest import make_fill, make_order


async def _fill_log(db: Database, count: int = 5) -> None:
    for n in range(1, count + 1):
        await db.audit("note", {"n": n, "symbol": "BTC/USDT" if n % 2 else "ETH/USDT"}, actor="tester", ts=1000 + n)


@pytest.mark.parametrize("payload", [
    {"b": "x\n\u0001\u2028é😀\\\"/", "a": 10**20, "c": None, "d": True, "": -1},
    {"symbol": "BTC/USDT", "lone": "\ud800"},  # refused by pydantic-core: the json module's way
    {"nested": {"z": 1, "a": [1.5, "x"]}, "ok": False},
])
def test_canonical_json_is_the_json_modules_sorted_compact_text(payload: dict[str, object]) -> None:
    expected = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical_json(payload) == expected


@pytest.mark.parametrize("reason", ["a lone \ud800 surrogate", "fine"])
def test_an_orders_payload_text_is_its_canonical_json(reason: str) -> None:
    order = make_order(reason=reason)
    payload = flat_dump(order, ORDER_PAYLOAD_KEYS)
    assert list(payload) == list(ORDER_PAYLOAD_KEYS)
    payload["event"] = "created"
    assert payload == order.model_dump(mode="json") | {"event": "created", "detail": None}
    assert sorted_flat_json(payload) == canonical_json(payload)


@pytest.mark.parametrize("model", [
    make_order(),
    make_order(status="canceled", filled_size=Decimal("1E-8"), avg_price=Decimal("-0"), fee=Decimal("1.10"),
               reason="é \ud800", leverage=3, reduce_only=True, time_in_force="IOC", trailing_offset=Decimal("1E+2")),
    make_fill(),
    make_fill(strategy_id="grid", liquidity="maker"),
])
def test_a_flat_dump_is_pydantics_json_mode_dump(model: Order | Fill) -> None:
    dump = flat_dump(model)
    assert dump == model.model_dump(mode="json")
    assert [type(value) for value in dump.values()] == [type(value) for value in model.model_dump(mode="json").values()]
    keys = sorted([*dump, "extra"])
    assert list(flat_dump(model, keys).items()) == [(key, dump.get(key)) for key in keys]


def test_record_text_is_the_canonical_json_of_the_record() -> None:
    payload = {"b": [1, 2.5, None], "a": "é", "price": Decimal("1.10")}
    text = record_text(7, 123, "kind", "actor", canonical_json(payload))
    assert text == canonical_json({"seq": 7, "ts": 123, "kind": "kind", "actor": "actor", "payload": payload})
    assert '"price":"1.10"' in text


async def test_entries_form_a_chain(db: Database) -> None:
    first = await db.audit("risk.limit", {"max": Decimal("2.50")}, actor="alice", ts=5)
    second = await db.audit("risk.limit", {"max": Decimal("3")}, actor="alice", ts=6)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert second.hash == entry_hash(first.hash, record_text(2, 6, "risk.limit", "alice", '{"max":"3"}'))
    stored = await db.audit_entries()
    assert stored == [first, second]
    assert stored[0].payload == {"max": "2.50"}
    result = await db.verify_audit()
    assert (result.ok, result.checked, result.first_broken) == (True, 2, None)


async def test_empty_log_verifies(db: Database) -> None:
    result = await db.verify_audit()
    assert result.ok and result.checked == 0


async def test_chain_continues_after_reopen(store: Store) -> None:
    first = await store.open()
    await _fill_log(first, 3)
    await first.close()
    second = await store.open()
    entry = await second.audit("note", {"n": 4})
    assert entry.seq == 4
    assert (await second.verify_audit()).checked == 4
    await second.close()


async def test_entry_timestamp_comes_from_argument_payload_clock_then_zero(store: Store, clock: SimClock) -> None:
    with_clock = await store.open(clock=clock)
    assert (await with_clock.audit("k", {}, ts=42)).ts == 42
    assert (await with_clock.audit("k", {"ts": 43})).ts == 43
    assert (await with_clock.audit("k", {"ts": "soon"})).ts == clock.now_ms()
    await with_clock.close()
    without_clock = await store.open()
    assert (await without_clock.audit("k", {})).ts == 0
    await without_clock.close()


async def test_filters(db: Database) -> None:
    await _fill_log(db, 5)
    await db.audit("other", {"symbol": "BTC/USDT"}, actor="bob", ts=2000)
    assert [e.seq for e in await db.audit_entries(kind="note")] == [1, 2, 3, 4, 5]
    assert [e.seq for e in await db.audit_entries(symbol="ETH/USDT")] == [2, 4]
    assert [e.seq for e in await db.audit_entries(actor="bob")] == [6]
    assert [e.seq for e in await db.audit_entries(since_ms=1004)] == [4, 5, 6]
    assert [e.seq for e in await db.audit_entries(limit=2)] == [5, 6]
    assert [e.seq for e in await db.audit_entries(before_seq=5, limit=2)] == [3, 4]
    assert [e.seq for e in await db.audit_entries(kind="note", symbol="BTC/USDT", limit=2)] == [3, 5]


async def test_updates_and_deletes_are_refused(db: Database, store: Store) -> None:
    await _fill_log(db, 2)
    with pytest.raises(Exception, match="append-only") as refused:
        store.rows("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    assert "Integrity" in type(refused.value).__name__ or "Constraint" in type(refused.value).__name__
    with pytest.raises(Exception, match="append-only"):
        store.rows("DELETE FROM audit_log WHERE seq = 2")
    if store.kind == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            store.rows("TRUNCATE audit_log")
    assert (await db.verify_audit()).ok


async def test_modified_payload_is_named(db: Database, store: Store) -> None:
    await _fill_log(db, 5)
    store.tamper("""UPDATE audit_log SET payload = '{"n":99,"symbol":"BTC/USDT"}' WHERE seq = 3""")
    result = await db.verify_audit()
    assert (result.ok, result.first_broken, result.checked) == (False, 3, 2)
    assert "entry 3 was altered" in result.message


async def test_rehashed_entry_breaks_the_next_link(db: Database, store: Store) -> None:
    await _fill_log(db, 5)
    entries = await db.audit_entries()
    forged_payload = '{"n":99,"symbol":"BTC/USDT"}'
    forged_hash = entry_hash(entries[1].hash, record_text(3, 1003, "note", "tester", forged_payload))
    store.tamper(f"UPDATE audit_log SET payload = '{forged_payload}', hash = '{forged_hash}' WHERE seq = 3")
    result = await db.verify_audit()
    assert (result.ok, result.first_broken) == (False, 4)
    assert "does not link to entry 3" in result.message


async def test_missing_entry_is_named(db: Database, store: Store) -> None:
    await _fill_log(db, 5)
    store.tamper("DELETE FROM audit_log WHERE seq = 2")
    result = await db.verify_audit()
    assert (result.ok, result.first_broken) == (False, 2)
    assert "entry 2 is missing" in result.message


async def test_entries_cut_off_the_end_are_named(db: Database, store: Store) -> None:
    await _fill_log(db, 5)
    store.tamper("DELETE FROM audit_log WHERE seq >= 4")
    result = await db.verify_audit()
    assert (result.ok, result.first_broken, result.checked) == (False, 4, 3)
    assert "entries 4 to 5 are missing" in result.message


async def test_forged_head_is_detected(db: Database, store: Store) -> None:
    await _fill_log(db, 3)
    store.tamper("UPDATE audit_head SET hash = 'forged' WHERE id = 1")
    result = await db.verify_audit()
    assert (result.ok, result.first_broken) == (False, 4)
    assert "not the one recorded as its head" in result.message


async def test_changed_symbol_column_is_detected(db: Database, store: Store) -> None:
    await _fill_log(db, 3)
    store.tamper("UPDATE audit_log SET symbol = 'DOGE/USDT' WHERE seq = 2")
    result = await db.verify_audit()
    assert (result.ok, result.first_broken) == (False, 2)


async def test_secrets_never_reach_the_log(db: Database) -> None:
    secret = "sk-live-0123456789abcdef"
    register_secret(secret)
    entry = await db.audit("venue.error", {"message": f"401 for key {secret}", secret: [f"x{secret}"]})
    assert secret not in json.dumps(entry.payload)
    stored = (await db.audit_entries(kind="venue.error"))[0]
    assert stored.payload == {"message": "401 for key ***", "***": ["x***"]}
    order = make_order()
    await db.record_order(order, "rejected", detail=f"bad signature with {secret}")
    events = await db.order_events(order.client_order_id)
    assert events[0]["detail"] == "bad signature with ***"
    assert secret not in json.dumps([e.payload for e in await db.audit_entries()])


async def test_unserialisable_payload_is_a_clear_error(db: Database) -> None:
    with pytest.raises(StorageError, match="cannot store as JSON: object is not JSON-serialisable"):
        await db.audit("k", {"thing": object()})
    with pytest.raises(StorageError, match="cannot store as JSON"):
        await db.audit("k", {"x": float("nan")})
    with pytest.raises(StorageError, match="needs a kind"):
        await db.audit("", {})
    assert (await db.verify_audit()).checked == 0


async def test_verify_audit_from_outside(db: Database, store: Store) -> None:
    await _fill_log(db, 3)
    assert (await verify_audit_file(await store.target().reader())).ok
    store.tamper("UPDATE audit_log SET ts = 1 WHERE seq = 1")
    result = await verify_audit_file(await store.target().reader())
    assert (result.ok, result.first_broken) == (False, 1)


async def test_verify_audit_file_refuses_what_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such database file"):
        await verify_audit_file(tmp_path / "missing.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(StorageError, match="has no audit log"):
        await verify_audit_file(empty)
    raw = sqlite3.connect(empty)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # read-only: left as it was
    raw.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        await verify_audit_file(junk)


async def test_export_jsonl_and_csv(db: Database, store: Store, tmp_path: Path) -> None:
    await db.record_fill(make_fill(ts=1))
    await _fill_log(db, 3)
    out = tmp_path / "audit.jsonl"
    assert await export_audit(await store.target().reader(), 1002, "jsonl", out) == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [3, 4]
    assert lines[0]["payload"] == {"n": 2, "symbol": "ETH/USDT"}

    stream = io.StringIO()
    assert await export_audit(await store.target().reader(), None, "csv", stream) == 4
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [row["kind"] for row in rows] == ["fill", "note", "note", "note"]
    assert json.loads(rows[0]["payload"])["price"] == "42000.10"
    assert rows[1]["prev_hash"] == rows[0]["hash"]

    with pytest.raises(StorageError, match="export format"):
        await export_audit(await store.target().reader(), None, "xml", stream)  # type: ignore[arg-type]


def test_a_keyed_flat_dump_of_other_values_is_pydantics_in_the_keys_order() -> None:
    class Odd(BaseModel):
        size: Decimal
        tags: list[str]

    model = Odd(size=Decimal("1.50"), tags=["a"])
    assert list(flat_dump(model, ["size", "x", "tags"]).items()) == [("size", "1.50"), ("x", None), ("tags", ["a"])]
