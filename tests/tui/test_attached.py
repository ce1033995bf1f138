"""What only an attached app does: it says where its engine is, quits at once leaving the engine
trading (and watching its levels), shows a dropped connection as "reconnecting" and resumes from
the last message it handled without losing an order event; and what it shows agrees with the
in-process app's."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from textual.widgets import DataTable, Static

from core.clock import SimClock
from core.models import OrderRequest, OrderType, Side
from core.stream import StreamHello, StreamSnapshot
from tests.tui.conftest import SESSIONS, advance, settle, until, wait_ready
from tests.tui.gateway_session import GatewaySession
from tests.tui.test_protection import levels_set, mark, open_position, position_row, type_into
from tests.tui.test_trading_flow import resting_buy_price
from tui.app import OpenTradeApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.edit_protection import EditProtectionScreen
from tui.widgets.status_bar import StatusBar

SYMBOL = "BTC/USDT"
D = Decimal


def attached(app: OpenTradeApp) -> GatewaySession:
    assert isinstance(app.session, GatewaySession)
    return app.session


@pytest.mark.parametrize("session_kind", ["remote"])
async def test_an_attached_app_quits_at_once_and_the_engine_goes_on_watching_its_levels(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock)
        session = attached(app)
        assert any("Attached to the engine at " + session.where in str(n.message) for n in app._notifications)
        engine = session.engine
        assert engine is not None
        stop = (engine.market.mark("paper", SYMBOL) * D("0.95")).quantize(D("0.01"))  # type: ignore[operator]
        await engine.set_protection("paper", SYMBOL, stop_loss=stop, take_profit=None)
        await settle(pilot)
        assert [lv.stop_loss for lv in session.watched_levels()] == [stop], "the app knows of the engine-side level"
        await pilot.press("ctrl+q")
        await until(pilot, lambda: app.return_code is not None, "quitting")
        assert not isinstance(app.screen, ConfirmScreen)
    assert app.return_code == 0
    assert engine.running and engine.protection.watched()[0].stop_loss == stop, "the engine still trades and watches"
    assert engine.portfolio.position("paper", SYMBOL) is not None


@pytest.mark.parametrize("session_kind", ["remote"])
async def test_a_dropped_connection_shows_reconnecting_then_resumes_without_losing_an_order_event(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        session = attached(app)
        engine = session.engine
        assert engine is not None
        control = session.subscribe(StreamHello, StreamSnapshot, maxsize=100, name="test")
        await session.proxy.cut()
        await until(pilot, lambda: session.connection_state == "reconnecting", "noticing the drop")
        app.render_frame()
        await pilot.pause()
        bar = app.screen.query_one(StatusBar)
        assert bar.status.connection == "reconnecting" and "reconnecting" in bar.render().plain

        price = resting_buy_price(app)
        order = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY,
                                                      type=OrderType.LIMIT, size=D("0.005"), price=price))
        canceled = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY,
                                                         type=OrderType.LIMIT, size=D("0.004"), price=price))
        await engine.cancel_order(canceled.client_order_id)
        await pilot.pause(0.05)
        assert session.open_orders() == [], "nothing arrives while the connection is down"

        await session.proxy.restore()
        await until(pilot, lambda: session.connection_state == "connected", "reconnecting")
        await settle(pilot)
        assert [o.client_order_id for o in session.open_orders()] == [order.client_order_id]
        [hello] = [event for event in control.drain() if isinstance(event, StreamHello)]
        assert hello.resumed and hello.replayed >= 3, "the missed order events came again, not a new snapshot"
        assert "reconnecting" not in app.screen.query_one(StatusBar).render().plain
        assert "My orders (1)" in str(app.screen.query_one("#own-orders", Static).render())


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_both_sessions_show_the_same_account_on_every_screen(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    """The status bar, the position and order rows, the balances and the risk screen's lines
    are those the in-process app shows for the same engine."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock)
        engine = app.engine
        price = engine.instrument("paper", SYMBOL).round_price(resting_buy_price(app) * D("0.98"))
        order = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY,
                                                      type=OrderType.LIMIT, size=D("0.003"), price=price))
        await advance(pilot, clock, 1.5)
        if isinstance(app.session, GatewaySession):  # the gateway sends the status line once a second: send it now
            app.session.gateway.hub.poll()  # type: ignore[union-attr]
            await until(pilot, lambda: app.session.equity() == engine.portfolio.equity(), "the status line arriving")
        status = app.status("Trade")
        assert (status.equity, status.daily_pnl) == (engine.portfolio.equity(), engine.portfolio.daily_pnl())
        assert (status.orders_today, status.risk) == (engine.guard.surveillance.orders_today(), engine.risk.state)
        await pilot.press("2")
        await settle(pilot)
        orders = app.screen.query_one("#table-orders", DataTable)
        assert [str(key.value) for key in orders.rows] == [order.client_order_id]
        positions = app.screen.query_one("#table-positions", DataTable)
        row = [str(cell) for cell in positions.get_row(f"paper|{SYMBOL}")]
        assert row[:4] == ["paper", SYMBOL, "long", "0.01000"]
        balances = app.screen.query_one("#table-balances", DataTable)
        assert {str(key.value) for key in balances.rows} == {f"paper|{b.asset}" for b in engine.portfolio.balances("paper")}
        await pilot.press("4")
        await settle(pilot)
        usage = engine.risk.limits_usage(engine.open_orders())
        assert [name for name, *_ in app.screen.query_one("#gauges").rows] == [u.name for u in usage]  # type: ignore[attr-defined]


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_levels_set_in_the_dialog_reach_the_engine_and_show_in_the_row(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, EditProtectionScreen)
        assert "only while the " + ("engine" if app.session.attached else "app") + " runs" in str(
            app.screen.query_one("#where", Static).render())
        stop = (mark(app) * D("0.97")).quantize(D("0.01"))
        await type_into(pilot, "stop_loss", str(stop))
        await pilot.press("ctrl+y")
        await levels_set(pilot, lambda: app.engine.protection.levels("paper", SYMBOL) is not None)
        row = position_row(app)
        assert (row["SL"], row["TP"], row["Levels"]) == (f"{stop:,.2f} manual", "-", "engine-side")
