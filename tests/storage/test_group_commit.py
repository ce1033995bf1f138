"""Group commit: concurrent writes share transactions, yet each is durable when awaited."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from core.models import OrderStatus
from core.storage import Database, StorageError
from core.storage.audit import AuditChain, AuditDraft
from core.storage.dialect import Conn
from core.storage.errors import DuplicateOrderError
from core.storage.writer import DRAIN_BATCHES, GroupCommitWriter
from tests.backends import Store
from tests.storage.conftest import make_fill, make_order


async def test_concurrent_orders_are_all_stored_in_shared_transactions(db: Database) -> None:
    orders = [make_order(n) for n in range(100)]
    await asyncio.gather(*(db.record_order(order, "created") for order in orders))
    stored = await db.load_orders()
    assert sorted(o.client_order_id for o in stored) == sorted(o.client_order_id for o in orders)
    batches, writes = db.commit_stats
    assert writes == 100 and batches < 100
    assert (await db.verify_audit()).checked == 100
    for order in orders[:3]:
        assert len(await db.order_events(order.client_order_id)) == 1


async def test_concurrent_mixed_writes_keep_the_chain_whole(db: Database) -> None:
    order = make_order()
    writes: list[Coroutine[Any, Any, Any]] = [db.record_order(order, "created")]
    writes += [db.record_fill(make_fill(n % 10)) for n in range(30)]
    writes += [db.audit("note", {"n": n}) for n in range(20)]
    writes += [db.set_state(f"k{n}", str(n)) for n in range(5)]
    results = await asyncio.gather(*writes)
    assert results[1:31].count(True) == 10
    assert len(await db.load_fills()) == 10
    result = await db.verify_audit()
    assert result.ok and result.checked == 1 + 10 + 20


async def test_awaited_write_is_committed_for_other_connections(db: Database, store: Store) -> None:
    order = make_order()
    await db.record_order(order, "created")
    assert store.rows("SELECT status FROM orders WHERE client_order_id = ?", (order.client_order_id,)) == [
        ("pending_new",)
    ]


async def test_write_survives_close_and_reopen(store: Store) -> None:
    first = await store.open()
    order = make_order()
    await first.record_order(order, "created")
    order.transition(OrderStatus.OPEN, order.updated_ts + 1)
    await first.record_order(order, "acknowledged")
    await first.close()
    second = await store.open(synchronous="NORMAL")
    assert await second.get_order(order.client_order_id) == order
    assert len(await second.order_events(order.client_order_id)) == 2
    await second.close()


async def test_close_commits_queued_writes_then_refuses_more(store: Store) -> None:
    db = await store.open()
    pending = [asyncio.ensure_future(db.record_order(make_order(n), "created")) for n in range(20)]
    await asyncio.sleep(0)
    await db.close()
    await asyncio.gather(*pending)
    with pytest.raises(StorageError, match="closed"):
        await db.record_order(make_order(99), "created")
    with pytest.raises(StorageError, match="closed"):
        await db.load_orders()
    await db.close()
    reopened = await store.open()
    assert len(await reopened.load_orders()) == 20
    await reopened.close()


def _failing_op(conn: Conn, chain: AuditChain) -> None:
    chain.append(conn, AuditDraft.of(0, "doomed", "test", {}))
    conn.execute("INSERT INTO nowhere VALUES (1)")


def _audit_op(n: int):  # type: ignore[no-untyped-def]
    def op(conn: Conn, chain: AuditChain) -> int:
        return chain.append(conn, AuditDraft.of(n, "ok", "test", {"n": n})).seq

    return op


async def test_one_failing_write_does_not_sink_its_batch(store: Store) -> None:
    await (await store.open()).close()
    link = await store.link()
    chain = AuditChain()
    writer = GroupCommitWriter(link, chain)
    # Lazy writes wait for the durable one, so the three share one batch.
    queued = [writer.queue(_audit_op(1), lazy=True), writer.queue(_failing_op, lazy=True), writer.queue(_audit_op(2))]
    results = await asyncio.gather(*queued, return_exceptions=True)
    await writer.close()
    await link.close()
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], StorageError) and "nowhere" in str(results[1])
    assert writer.batches == 1
    db = await store.open()
    assert [e.kind for e in await db.audit_entries()] == ["ok", "ok"]
    assert (await db.verify_audit()).ok
    await db.close()


async def test_a_lazy_write_shares_the_next_durable_writes_commit(db: Database) -> None:
    first, second = make_order(1), make_order(2)
    await db.record_order(first, "created")
    before, _ = db.commit_stats
    first.transition(OrderStatus.OPEN, first.updated_ts + 1)
    behind = db.queue_order(first, "acknowledged", lazy=True)
    await db.record_order(second, "created")
    await behind
    batches, writes = db.commit_stats
    assert (batches - before, writes) == (1, 3)
    assert [e["event"] for e in await db.order_events(first.client_order_id)] == ["created", "acknowledged"]


async def test_rows_queued_one_after_another_commit_in_that_order(db: Database) -> None:
    order = make_order(3)
    rows = [db.queue_order(order, "created", new=True)]
    for ts, status in enumerate((OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELED), 1):
        order.transition(status, order.updated_ts + ts)
        rows.append(db.queue_order(order, status.value, lazy=ts % 2 == 1))
    await asyncio.gather(*rows)
    events = await db.order_events(order.client_order_id)
    assert [e["event"] for e in events] == ["created", "open", "partially_filled", "canceled"]
    assert (await db.get_order(order.client_order_id)).status is OrderStatus.CANCELED  # type: ignore[union-attr]


async def test_a_lazy_write_alone_is_still_committed(db: Database, store: Store) -> None:
    order = make_order(5)
    await db.queue_order(order, "created", lazy=True)
    assert store.rows("SELECT COUNT(*) FROM order_events") == [(1,)]


async def test_a_failure_in_a_plain_batch_reruns_it_with_each_write_isolated(store: Store) -> None:
    await (await store.open()).close()
    link = await store.link()
    writer = GroupCommitWriter(link, AuditChain())
    ops = [_audit_op(n) for n in range(5)]
    ops.insert(3, _failing_op)
    queued = [writer.queue(op, lazy=True) for op in ops[:-1]] + [writer.queue(ops[-1])]
    results = await asyncio.gather(*queued, return_exceptions=True)
    await writer.close()
    await link.close()
    assert results[:3] == [1, 2, 3] and results[4:] == [4, 5]
    assert isinstance(results[3], StorageError)
    assert writer.batches == 1
    db = await store.open()
    assert [e.payload["n"] for e in await db.audit_entries()] == [0, 1, 2, 3, 4]
    assert (await db.verify_audit()).ok
    await db.close()


async def test_order_rows_of_a_batch_go_in_together_and_a_taken_id_fails_alone(db: Database) -> None:
    taken = make_order(1)
    await db.record_order(taken, "created", new=True)
    fresh = [make_order(n) for n in range(2, 6)]
    queued = [db.queue_order(order, "created", new=True, lazy=True) for order in fresh[:2]]
    queued.append(db.queue_order(taken, "created", new=True, lazy=True))
    queued += [db.queue_order(order, "created", new=True, lazy=True) for order in fresh[2:]]
    queued.append(db.queue_order(fresh[0], "created", new=True))  # the same new id twice in one batch
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert results[:2] == [None, None] and results[3:5] == [None, None]
    assert isinstance(results[2], DuplicateOrderError) and isinstance(results[5], DuplicateOrderError)
    assert sorted(o.client_order_id for o in await db.load_orders()) == sorted(
        o.client_order_id for o in [taken, *fresh])
    assert (await db.verify_audit()).checked == 5


async def test_plain_batches_store_what_one_write_at_a_time_stores(db: Database) -> None:
    orders = [make_order(n) for n in range(300)]  # more rows than one multi-row statement takes
    await asyncio.gather(*(db.record_order(order, "created", new=True) for order in orders))
    for order in orders:
        order.transition(OrderStatus.OPEN, order.updated_ts + 1)
    await asyncio.gather(*(db.queue_order(order, "open") for order in orders))
    assert await db.load_orders() == orders
    events = await db.order_events(orders[7].client_order_id)
    assert [(e["event"], e["status"]) for e in events] == [("created", "pending_new"), ("open", "open")]
    assert all(e["audit_seq"] for e in events)
    assert (await db.verify_audit()).checked == 600


async def test_a_long_run_of_transactions_gives_the_thread_back_and_goes_on(store: Store) -> None:
    """One write a transaction: the connection's thread runs ``DRAIN_BATCHES`` of them, returns
    (a backup or a checkpoint may be waiting for it), and the loop starts the next run."""
    await (await store.open()).close()
    link = await store.link()
    writer = GroupCommitWriter(link, AuditChain(), max_batch=1)
    results = await asyncio.gather(*(writer.queue(_audit_op(n)) for n in range(3 * DRAIN_BATCHES + 1)))
    await writer.close()
    await link.close()
    assert results == list(range(1, 3 * DRAIN_BATCHES + 2))
    assert writer.batches == 3 * DRAIN_BATCHES + 1


async def test_writes_fail_clearly_when_the_connection_is_gone(store: Store) -> None:
    await (await store.open()).close()
    link = await store.link()
    writer = GroupCommitWriter(link, AuditChain())
    await link.close()
    results = await asyncio.gather(*(writer.submit(_audit_op(n)) for n in range(3)), return_exceptions=True)
    assert all(isinstance(r, StorageError) and "was not saved" in str(r) for r in results)
    await writer.close()
    with pytest.raises(StorageError, match="closed"):
        await writer.submit(_audit_op(9))


_CRASH_SCRIPT = """
import asyncio, os, sys
from core.storage.target import StorageTarget
from tests.storage.conftest import make_order

async def main():
    db = await StorageTarget.parse(sys.argv[1], os.environ.get("OPENTRADE_DB_PASSWORD")).open()
    await db.record_order(make_order(7), "created")
    os._exit(0)  # no close, no checkpoint: only what was committed survives

asyncio.run(main())
"""


async def test_awaited_write_survives_a_process_that_dies_without_closing(store: Store) -> None:
    root = Path(__file__).resolve().parents[2]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASH_SCRIPT, store.location, cwd=root, env={**os.environ, **store.env()},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    db = await store.open()
    assert await db.get_order(make_order(7).client_order_id) == make_order(7)
    assert (await db.verify_audit()).checked == 1
    await db.close()


async def test_two_databases_on_one_file_build_one_chain(store: Store) -> None:
    app = await store.open()
    command = await store.open()
    await app.audit("note", {"by": "app"})
    await command.audit("note", {"by": "command"})
    await app.record_order(make_order(), "created")
    entries = await command.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert (await app.verify_audit()).ok
    await command.close()
    await app.close()
