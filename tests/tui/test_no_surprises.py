"""What the trader sees is what the engine does (issue 12): numbers mean one thing, leverage as
shown is leverage as sent, a refusal shows before any confirmation, exits are never locked in,
and prices and sizes read the same everywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from core.clock import SimClock
from core.config import AppConfig, CircuitBreakerConfig
from core.ledger import perpetual_margin
from core.models import OrderRequest, OrderType, Side
from tests.tui.conftest import advance, settle, wait_ready
from tests.tui.test_trading_flow import SYMBOL, choose_market_type, resting_buy_price, type_ticket
from tui.app import OpenTradeApp
from tui.format import show_price
from tui.screens.confirm import ConfirmScreen
from tui.screens.edit_order import EditOrderScreen
from tui.widgets.status_bar import StatusBar

PERP = "BTC/USDT:USDT"


def screen_text(app: OpenTradeApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())  # noqa: SLF001


def text_of(app: OpenTradeApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def status_line(app: OpenTradeApp) -> str:
    return "".join(text for text, _ in app.screen.query_one(StatusBar).draw()[0])


def asking_above(notional: Decimal) -> AppConfig:
    """A configuration whose ticket asks for a confirmation above ``notional``."""
    config = AppConfig()
    config.trading.confirm_notional_above = notional
    return config


async def send_ticket(pilot: Pilot[Any], size: str, price: str | None = None) -> None:
    await type_ticket(pilot, size, price)
    await pilot.press("enter")
    await settle(pilot)


async def test_what_is_typed_is_read_one_way_or_refused_with_its_reason(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        price = str(resting_buy_price(app))
        for typed, message in (("1,5", "use a dot as the decimal separator"), ("inf", "is infinite"),
                               ("nan", "is not a number (nan)"), ("1e999999", "is too large")):
            await send_ticket(pilot, typed, price)
            assert message in text_of(app, "#size-error"), typed
            assert not isinstance(app.screen, ConfirmScreen)
        assert await app.engine.order_history() == []


async def test_the_perpetual_ticket_shows_the_leverage_it_sends_and_the_engines_margin(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await app.select_market("paper", PERP)
        await advance(pilot, clock, 2)
        assert app.screen.query_one("#leverage", Input).value == "3"
        assert text_of(app, "#leverage-source") == "config default"
        engine = app.engine
        instrument = engine.instrument("paper", PERP)
        book = engine.market.book("paper", PERP)
        assert book is not None and book.best_ask is not None
        price = book.best_ask
        await type_ticket(pilot, "0.01", str(price))
        await settle(pilot)
        margin, liquidation = perpetual_margin(True, price, Decimal("0.01"), instrument.contract_size, 3,
                                               engine.portfolio.maintenance_margin_rate)
        preview = text_of(app, "#preview")
        assert f"Margin {margin:,.2f} at 3x" in preview and f"Liq {show_price(instrument, liquidation)}" in preview

        await pilot.press("enter")
        await advance(pilot, clock, 1)
        [order] = await engine.order_history()
        assert order.leverage == 3
        position = engine.portfolio.position("paper", PERP)
        assert position is not None and position.leverage == 3 and position.entry_price == price
        assert position.margin == margin
        assert show_price(instrument, position.liquidation_price) == show_price(instrument, liquidation)
        assert text_of(app, "#leverage-source") == "open position"


async def test_a_refusal_shows_at_once_and_no_dialog_asks_about_it(make_app: Any, clock: SimClock) -> None:
    app = make_app(asking_above(Decimal(500)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        engine = app.engine
        mark = engine.market.mark("paper", SYMBOL)
        assert mark is not None
        await send_ticket(pilot, "0.001", str((mark * Decimal("0.9")).quantize(Decimal("0.01"))))
        assert not isinstance(app.screen, ConfirmScreen)
        assert "fat-finger band" in text_of(app, "#form-error")

        await send_ticket(pilot, "0.02", str(resting_buy_price(app)))
        assert not isinstance(app.screen, ConfirmScreen)
        assert "the largest position allowed is 1,000.00 USDT" in text_of(app, "#form-error")

        working = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY,
                                                        size=Decimal("0.0098"), price=resting_buy_price(app)))
        assert working.is_open
        await send_ticket(pilot, "0.015", str(resting_buy_price(app) - 1))
        assert not isinstance(app.screen, ConfirmScreen)
        assert "with the working buy orders (0.0098 BTC)" in text_of(app, "#form-error")
        assert len(await engine.order_history()) == 1


async def test_after_the_daily_order_cap_a_close_still_passes_and_the_limit_is_named(make_app: Any, clock: SimClock) -> None:
    config = AppConfig(circuit_breakers=CircuitBreakerConfig(max_trades_per_day=20))
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        engine = app.engine
        await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                                              size=Decimal("0.001")))
        for offset in range(19):
            order = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.001"),
                                                          price=resting_buy_price(app) - offset))
            await engine.cancel_order(order.client_order_id)
        await advance(pilot, clock, 1)
        assert engine.portfolio.position("paper", SYMBOL) is not None
        assert "ACTIVE — exits only: max_trades_per_day" in status_line(app)
        assert "orders today 20/20" in status_line(app)

        await pilot.press("escape", "4")
        await settle(pilot)
        state = text_of(app, "#risk-state")
        assert "ACTIVE — exits only" in state and "Orders today 20/20" in state
        assert "max_trades_per_day: 20 orders were placed today" in text_of(app, "#risk-blockers")

        await pilot.press("2")
        await settle(pilot)
        await pilot.press("x")
        await advance(pilot, clock, 1)
        assert engine.portfolio.position("paper", SYMBOL) is None
        assert "orders today 21/20" in status_line(app)


async def test_balances_per_venue_with_their_value(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                                                  size=Decimal("0.01")))
        await advance(pilot, clock, 1)
        await pilot.press("escape", "2", "b")
        await settle(pilot)
        table = app.screen.query_one("#table-balances", DataTable)
        assert table.has_focus
        rows = {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}
        venue, asset, free, locked, total, value = rows["paper|BTC"]
        assert (venue, asset, free, locked, total) == ("paper", "BTC", "0.01000", "0.00000", "0.01000")
        mark = app.engine.portfolio.mark("paper", SYMBOL)
        assert mark is not None and value == f"{Decimal('0.01') * mark:,.2f} USDT"
        assert rows["paper|USDT"][5] == f"{rows['paper|USDT'][4]} USDT"


async def test_history_and_fills_newest_first(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        engine = app.engine
        first = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.001"),
                                                      price=resting_buy_price(app)))
        await pilot.press("escape", "2")
        await advance(pilot, clock, 1)
        second = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.002"),
                                                       price=resting_buy_price(app) - 1))
        await advance(pilot, clock, 1)
        history = app.screen.query_one("#table-history", DataTable)
        assert [str(k.value) for k in history.rows] == [second.client_order_id, first.client_order_id]
        assert [str(c) for c in history.get_row(second.client_order_id)][4] == "0.00200"


async def test_a_market_order_confirmation_names_no_time_in_force(make_app: Any, clock: SimClock) -> None:
    app = make_app(asking_above(Decimal(500)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await choose_market_type(pilot)
        await send_ticket(pilot, "0.01")
        assert isinstance(app.screen, ConfirmScreen)
        body = text_of(app, "#body")
        assert body.startswith(f"BUY MARKET 0.01000 {SYMBOL} on paper.") and "GTC" not in body


async def test_the_modify_dialog_title_is_whole_at_80x24(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        order = await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY,
                                                          size=Decimal("0.001"), price=resting_buy_price(app)))
        await pilot.press("escape", "2")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EditOrderScreen)
        shown = screen_text(app)
        texts = [str(w.render()) for w in app.screen.query("#dialog Label, #dialog Static") if str(w.render())]
        assert all(text in shown for text in texts), [text for text in texts if text not in shown]
        assert texts[:2] == [f"Modify BUY limit {SYMBOL}", f"order {order.client_order_id}"]
