"""The order path through the real engine and paper venue: place, fill, cancel, modify,
refuse, close, emergency stop, restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.engine import OrderRefused, TradingEngine
from core.events import OrderFilled, OrderRejected, OrderUpdated
from core.executor import Operation
from core.models import OrderRequest, OrderStatus, OrderType, PositionSide, RiskState, Side, TimeInForce
from core.orders import report_identity
from tests.engine.conftest import started

D = Decimal
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


def mark(engine: TradingEngine, symbol: str = SPOT) -> Decimal:
    value = engine.market.mark("paper", symbol)
    assert value is not None
    return value


def limit(engine: TradingEngine, side: Side = Side.BUY, offset: str = "0.98", size: str = "0.01", **kw: object) -> OrderRequest:
    price = (mark(engine) * D(offset)).quantize(D(1))
    return OrderRequest(venue="paper", symbol=SPOT, side=side, size=D(size), price=price, **kw)  # type: ignore[arg-type]


def market(symbol: str = SPOT, side: Side = Side.BUY, size: str = "0.01", **kw: object) -> OrderRequest:
    return OrderRequest(venue="paper", symbol=symbol, side=side, type=OrderType.MARKET, size=D(size), **kw)  # type: ignore[arg-type]


async def settle() -> None:
    """Let the engine's report consumer and account refresher run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_limit_order_is_written_before_it_is_sent_and_rests(engine: TradingEngine) -> None:
    events = engine.bus.subscribe(OrderUpdated)
    order = await engine.place_order(limit(engine))
    assert order.status is OrderStatus.OPEN
    assert [o.client_order_id for o in engine.open_orders()] == [order.client_order_id]
    created = (await engine.db.order_events(order.client_order_id))[0]
    assert created["event"] == "created" and created["detail"] == "risk: approved"
    audited = [a for a in await engine.db.audit_entries(kind="order") if a.payload["client_order_id"] == order.client_order_id]
    assert audited[0].payload["detail"] == "risk: approved" and audited[0].actor == "user"
    await engine.orders.flush()  # the acknowledgement's row is written behind
    history = [e["event"] for e in await engine.db.order_events(order.client_order_id)]
    assert history == ["created", "open"]
    statuses = [e.order.status for e in events.drain()]
    assert statuses == [OrderStatus.PENDING_NEW, OrderStatus.OPEN]
    book = await engine.venues["paper"].fetch_order_book(SPOT, depth=10_000)
    assert any(price == order.price for price, _ in book.bids)


async def test_market_order_fills_and_moves_the_portfolio(engine: TradingEngine) -> None:
    fills = engine.bus.subscribe(OrderFilled)
    usdt_before = {b.asset: b.total for b in engine.portfolio.balances("paper")}["USDT"]
    order = await engine.place_order(market(size="0.05"))
    await settle()
    assert order.status is OrderStatus.FILLED and order.filled_size == D("0.05")
    recorded = await engine.fills(symbol=SPOT)
    assert sum(f.size for f in recorded) == D("0.05")
    assert len({f.fill_id for f in recorded}) == len(recorded)
    assert len(fills.drain()) == len(recorded)
    position = engine.portfolio.position("paper", SPOT)
    assert position is not None and position.side is PositionSide.LONG and position.size == D("0.05")
    usdt_after = {b.asset: b.total for b in engine.portfolio.balances("paper")}["USDT"]
    assert usdt_after < usdt_before - order.avg_price * D("0.05") * D("0.99")  # type: ignore[operator]


async def test_invalid_precision_is_refused_with_the_reason(engine: TradingEngine) -> None:
    rejected = engine.bus.subscribe(OrderRejected)
    request = limit(engine, size="0.000001")
    with pytest.raises(OrderRefused, match="lot size") as info:
        await engine.place_order(request)
    assert info.value.rule == "validation"
    assert await engine.orders.get(request.client_order_id) is None
    assert rejected.drain()[0].reason == info.value.reason
    audit = await engine.db.audit_entries(kind="order_refused")
    assert audit[-1].payload["client_order_id"] == request.client_order_id


async def test_risk_refusal_never_reaches_the_venue(engine: TradingEngine) -> None:
    request = limit(engine, offset="0.5")
    with pytest.raises(OrderRefused) as info:
        await engine.place_order(request)
    assert info.value.rule != "validation"
    assert "mark" in info.value.reason
    assert await engine.venues["paper"].fetch_order(request.client_order_id, SPOT) is None


async def test_unknown_market_and_venue(engine: TradingEngine) -> None:
    with pytest.raises(OrderRefused, match="DOGE/USDT is not a market on paper"):
        await engine.place_order(OrderRequest(venue="paper", symbol="DOGE/USDT", side=Side.BUY, type=OrderType.MARKET, size=D(1)))
    with pytest.raises(OrderRefused, match="venue 'kraken' is not configured"):
        await engine.place_order(OrderRequest(venue="kraken", symbol=SPOT, side=Side.BUY, type=OrderType.MARKET, size=D(1)))


async def test_cancel_then_cancel_again(engine: TradingEngine) -> None:
    order = await engine.place_order(limit(engine))
    canceled = await engine.cancel_order(order.client_order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert engine.open_orders() == []
    with pytest.raises(OrderRefused, match="already canceled"):
        await engine.cancel_order(order.client_order_id)
    with pytest.raises(OrderRefused, match="no order nope"):
        await engine.cancel_order("nope")


async def test_modify_is_cancel_replace_and_a_refused_change_keeps_the_order(engine: TradingEngine) -> None:
    order = await engine.place_order(limit(engine))
    new_price = (mark(engine) * D("0.97")).quantize(D(1))
    replaced = await engine.modify_order(order.client_order_id, price=new_price)
    assert replaced.price == new_price and replaced.status is OrderStatus.OPEN
    assert (await engine.orders.get(order.client_order_id)).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    with pytest.raises(OrderRefused):
        await engine.modify_order(replaced.client_order_id, price=D("1"))
    assert [o.client_order_id for o in engine.open_orders()] == [replaced.client_order_id]


async def test_duplicate_client_order_id_is_refused(engine: TradingEngine) -> None:
    first = await engine.place_order(limit(engine, client_order_id="mine-1"))
    await engine.cancel_order(first.client_order_id)
    with pytest.raises(OrderRefused, match="client order id mine-1 is already in use"):
        await engine.place_order(limit(engine, client_order_id="mine-1"))


async def test_perpetual_long_then_close(engine: TradingEngine) -> None:
    opened = await engine.place_order(market(PERP, size="0.02", leverage=2))
    await settle()
    assert opened.status is OrderStatus.FILLED
    position = engine.portfolio.position("paper", PERP)
    assert position is not None and position.side is PositionSide.LONG and position.size == D("0.02")
    closing = await engine.close_position("paper", PERP)
    await settle()
    assert closing is not None and closing.reduce_only and closing.side is Side.SELL
    assert engine.portfolio.position("paper", PERP) is None
    assert await engine.venues["paper"].fetch_positions() == []


async def test_emergency_stop_cancels_flattens_and_halts_until_reset(engine: TradingEngine) -> None:
    resting = await engine.place_order(limit(engine))
    await engine.place_order(market(PERP, size="0.02", leverage=2))
    await settle()
    await engine.emergency_stop("test drill")
    await settle()
    assert engine.risk.state is RiskState.HALTED
    assert (await engine.orders.get(resting.client_order_id)).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert engine.portfolio.position("paper", PERP) is None
    with pytest.raises(OrderRefused):
        await engine.place_order(limit(engine))
    kinds = [e.kind for e in await engine.db.audit_entries()]
    assert "emergency_stop" in kinds and "flattened" in kinds and "risk_state" in kinds
    await engine.reset_risk("tester")
    assert engine.risk.state is RiskState.ACTIVE
    assert (await engine.place_order(limit(engine))).status is OrderStatus.OPEN


async def test_a_halt_survives_a_restart(isolated_home: Path, clock: SimClock) -> None:
    engine = await started(isolated_home, clock)
    await engine.emergency_stop("before restart")
    await settle()
    await engine.close()
    again = await started(isolated_home, clock)
    try:
        assert again.risk.state is RiskState.HALTED
    finally:
        await again.close()


async def test_restart_reconciles_a_pending_order_that_never_reached_the_venue(isolated_home: Path, clock: SimClock) -> None:
    engine = await started(isolated_home, clock)
    request = limit(engine)
    from core.models import Order

    await engine.orders.record_new(Order.from_request(request, clock.now_ms()))
    await engine.close()
    again = await started(isolated_home, clock)
    try:
        order = await again.orders.get(request.client_order_id)
        assert order is not None and order.status is OrderStatus.REJECTED
        assert "never reached the venue" in (order.reason or "")
        reconciled = (await again.db.audit_entries(kind="reconciled"))[-1].payload
        assert reconciled["missing"] == 1
    finally:
        await again.close()


async def test_resting_orders_survive_a_restart(isolated_home: Path, clock: SimClock) -> None:
    engine = await started(isolated_home, clock)
    order = await engine.place_order(limit(engine))
    await engine.close()
    again = await started(isolated_home, clock)
    try:
        assert [o.client_order_id for o in again.open_orders()] == [order.client_order_id]
    finally:
        await again.close()


async def test_duplicate_and_stale_reports_change_nothing(engine: TradingEngine) -> None:
    order = await engine.place_order(market(size="0.03"))
    await settle()
    fills = await engine.fills()
    report = (await engine.venues["paper"].fetch_order(order.client_order_id, SPOT))
    assert report is not None
    for fill in fills:
        await engine.orders.apply(report.model_copy(update={"fill": fill, "status": OrderStatus.PARTIALLY_FILLED}))
    assert len(await engine.fills()) == len(fills)
    assert (await engine.orders.get(order.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]
    position = engine.portfolio.position("paper", SPOT)
    assert position is not None and position.size == D("0.03")


async def test_batch_operations_report_each_outcome(engine: TradingEngine) -> None:
    good = limit(engine)
    bad = limit(engine, offset="0.5")
    result = await engine.batch_operations([Operation("place", good), Operation("place", bad),
                                            Operation("cancel", client_order_id=good.client_order_id)])
    assert not result.ok
    assert result.errors[0] is None and result.errors[1] is not None and result.errors[2] is None
    assert result.results[2].status is OrderStatus.CANCELED  # type: ignore[union-attr]


async def test_ioc_limit_below_the_market_expires_unfilled(engine: TradingEngine) -> None:
    order = await engine.place_order(limit(engine, time_in_force=TimeInForce.IOC))
    assert order.status is OrderStatus.CANCELED and order.filled_size == 0


async def test_configuration_is_audited_and_a_change_is_noticed(isolated_home: Path, clock: SimClock) -> None:
    from tests.engine.conftest import engine_config

    engine = await started(isolated_home, clock)
    await engine.close()
    changed = await started(isolated_home, clock, engine_config(max_open_positions=4))
    try:
        kinds = [e.kind for e in await changed.db.audit_entries() if e.kind.startswith("config_")]
        assert kinds == ["config_loaded", "config_changed"]
    finally:
        await changed.close()


async def test_spot_holdings_and_the_days_start_survive_a_restart(isolated_home: Path, clock: SimClock) -> None:
    engine = await started(isolated_home, clock)
    await engine.place_order(market(size="0.04"))
    await settle()
    start_of_day = engine.portfolio.start_of_day_equity()
    await engine.close()
    again = await started(isolated_home, clock)
    try:
        position = again.portfolio.position("paper", SPOT)
        assert position is not None and position.size == D("0.04")
        assert again.portfolio.start_of_day_equity() == start_of_day
    finally:
        await again.close()


async def test_each_venue_report_is_applied_once(engine: TradingEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper venue returns a market order's report and publishes the same report on the bus:
    the order manager applies it once (one write of each fill), not once per route."""
    applied: list[tuple[object, ...]] = []
    real = engine.orders._merge

    def counting(order: object, report: object) -> object:
        applied.append(report_identity(report))  # type: ignore[arg-type]  # type: ignore[arg-type]
        return real(order, report)  # type: ignore[arg-type]

    written: list[str] = []
    record_fill = engine.db.record_fill

    async def counting_fill(fill: object) -> bool:
        written.append(fill.fill_id)  # type: ignore[attr-defined]
        return await record_fill(fill)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.orders, "_merge", counting)
    monkeypatch.setattr(engine.db, "record_fill", counting_fill)
    order = await engine.place_order(market(size="0.05"))
    await settle()
    assert order.status is OrderStatus.FILLED and written
    assert len(written) == len(set(written)), f"a fill written more than once: {written}"
    assert len(applied) == len(set(applied)), "a report applied more than once"


async def test_an_order_is_validated_once(engine: TradingEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine checks a request against its instrument once, in the gate, when placing it and
    when modifying an order (whose replacement used to be checked before the cancel and again
    when placed). The paper venue checks what it receives, as any exchange does: its own copy."""
    checked: list[OrderRequest] = []
    validate = OrderRequest.validate_for

    def counting(self: OrderRequest, instrument: object) -> list[str]:
        checked.append(self)
        return validate(self, instrument)  # type: ignore[arg-type]

    monkeypatch.setattr(OrderRequest, "validate_for", counting)
    request = limit(engine)
    order = await engine.place_order(request)
    assert sum(r is request for r in checked) == 1
    replaced = await engine.modify_order(order.client_order_id, price=order.price - 1)  # type: ignore[operator]
    assert replaced.status is OrderStatus.OPEN
    assert len({id(r) for r in checked}) == len(checked), "a request validated twice"
