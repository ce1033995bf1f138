"""Stop-loss and take-profit on screen, by keyboard: typed in the ticket, set and cleared on the
Positions screen (refusals explained in the dialog), shown in the columns, on the ladder and the
chart, restored after a restart, and asked about when quitting would leave them unwatched."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from core.clock import SimClock
from core.config import AppConfig, TradingConfig
from core.models import OrderRequest, OrderType, Side
from tests.tui.conftest import advance, settle, until, wait_ready
from tui.app import OpenTradeApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.edit_protection import EditProtectionScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.order_book import OrderBookLadder
from tui.widgets.price_chart import PriceChart

SYMBOL = "BTC/USDT"
D = Decimal


def _app(pilot: Pilot[Any]) -> OpenTradeApp:
    assert isinstance(pilot.app, OpenTradeApp)
    return pilot.app


async def levels_set(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    """The engine's tasks write the levels on the writer's thread: wait for them, then draw."""
    await until(pilot, condition, "the protective levels' change")
    await settle(pilot)


def position_row(app: OpenTradeApp) -> dict[str, str]:
    table = app.screen.query_one("#table-positions", DataTable)
    headers = [str(column.label) for column in table.columns.values()]
    return dict(zip(headers, (str(cell) for cell in table.get_row(f"paper|{SYMBOL}")), strict=True))


def mark(app: OpenTradeApp) -> Decimal:
    value = app.engine.market.mark("paper", SYMBOL)
    assert value is not None
    return value


async def open_position(pilot: Pilot[Any], clock: SimClock, warm_up: float = 3) -> None:
    """Start the app, let the market run ``warm_up`` seconds, buy 0.01 at market."""
    app = _app(pilot)
    await wait_ready(pilot)
    await advance(pilot, clock, warm_up)
    await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                                              size=D("0.01")))
    await advance(pilot, clock, 1)


async def type_into(pilot: Pilot[Any], field: str, text: str) -> None:
    _app(pilot).screen.query_one(f"#{field}", Input).focus()
    await pilot.press("ctrl+u", *text)


def dialog_errors(app: OpenTradeApp) -> dict[str, str]:
    return {name: str(app.screen.query_one(f"#{name}-error", Static).render())
            for name in ("stop_loss", "take_profit", "form")}


async def test_levels_typed_in_the_ticket_show_on_positions_and_survive_a_restart(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 3)
        book = app.engine.market.book("paper", SYMBOL)
        assert book is not None and book.best_ask is not None
        instrument = app.engine.instrument("paper", SYMBOL)
        price = book.best_ask + 5 * instrument.tick_size  # marketable: fills at once
        stop, take = instrument.round_price(price * D("0.97")), instrument.round_price(price * D("1.05"))
        await pilot.press("escape", "o", "ctrl+u", *"0.01", "tab", "tab", "ctrl+u", *str(price))
        await type_into(pilot, "take_profit", str(take))
        await type_into(pilot, "stop_loss", str(stop))
        await pilot.press("enter")
        await levels_set(pilot, lambda: app.engine.protection.levels("paper", SYMBOL) is not None)
        await pilot.press("escape", "2")
        await settle(pilot)
        row = position_row(app)
        assert (row["SL"], row["TP"], row["Levels"]) == (f"{stop:,.2f} manual", f"{take:,.2f} manual", "engine-side")
    restarted = make_app()
    async with restarted.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("2")
        await settle(pilot)
        row = position_row(restarted)
        assert (row["SL"], row["TP"], row["Levels"]) == (f"{stop:,.2f} manual", f"{take:,.2f} manual", "engine-side")


async def test_levels_set_and_cleared_on_the_positions_screen_with_refusals_explained(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock)
        await pilot.press("2")
        await settle(pilot)
        assert (position_row(app)["SL"], position_row(app)["Levels"]) == ("-", "none")
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, EditProtectionScreen)
        assert app.screen.focused is app.screen.query_one("#stop_loss", Input), "the first field has the focus"
        shown = {(key.key, key.description) for key in app.screen.query_one(KeysFooter).keys}
        assert {("ctrl+y", "Confirm"), ("escape", "Cancel")} <= shown, "the dialog's footer shows its keys"
        now = mark(app)
        stop, take = (now * D("0.97")).quantize(D("0.01")), (now * D("1.04")).quantize(D("0.01"))
        for stop_text, take_text, field, message in (
            (f"{stop:,}", "", "stop_loss", "use a dot as the decimal separator"),
            (str(now + 100), "", "stop_loss", "a long's stop-loss must be below the mark"),
            (f"{stop}5", "", "stop_loss", "is not a multiple of the tick size 0.01"),
            (str(stop), "abc", "take_profit", "'abc' is not a number"),
            (str(stop), "inf", "take_profit", "'inf' is infinite"),
        ):
            await type_into(pilot, "stop_loss", stop_text)
            await type_into(pilot, "take_profit", take_text)
            await pilot.press("ctrl+y")
            await settle(pilot)
            assert isinstance(app.screen, EditProtectionScreen), f"{stop_text!r} / {take_text!r} was refused"
            assert message in dialog_errors(app)[field]
        await type_into(pilot, "take_profit", str(take))
        await pilot.press("enter")
        await levels_set(pilot, lambda: app.engine.protection.levels("paper", SYMBOL) is not None)
        row = position_row(app)
        assert (row["SL"], row["TP"], row["Levels"]) == (f"{stop:,.2f} manual", f"{take:,.2f} manual", "engine-side")

        await pilot.press("l")
        await settle(pilot)
        assert app.screen.query_one("#take_profit", Input).value == str(take)
        await type_into(pilot, "take_profit", "")
        await pilot.press("ctrl+y")
        await levels_set(pilot, lambda: app.engine.protection.levels("paper", SYMBOL).take_profit is None)  # type: ignore[union-attr]
        assert (position_row(app)["SL"], position_row(app)["TP"]) == (f"{stop:,.2f} manual", "-")

        await pilot.press("l")
        await settle(pilot)
        await type_into(pilot, "stop_loss", "1")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, EditProtectionScreen)
        levels = app.engine.protection.levels("paper", SYMBOL)
        assert levels is not None and levels.stop_loss == stop, "Escape changed nothing"
    restarted = make_app()
    async with restarted.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await settle(pilot)
        assert restarted.current_mode == "positions"
        assert (position_row(restarted)["SL"], position_row(restarted)["TP"]) == (f"{stop:,.2f} manual", "-")


async def test_auto_protect_levels_are_labelled_auto(make_app: Callable[..., OpenTradeApp], clock: SimClock) -> None:
    app = make_app(AppConfig(trading=TradingConfig(auto_protect=True)))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock)
        await levels_set(pilot, lambda: app.engine.protection.levels("paper", SYMBOL) is not None)
        await pilot.press("2")
        await settle(pilot)
        row = position_row(app)
        assert row["SL"].endswith(" auto") and row["TP"].endswith(" auto") and row["Levels"] == "engine-side"


async def test_levels_are_marked_on_the_ladder_and_the_chart(make_app: Callable[..., OpenTradeApp], clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock, warm_up=30)
        book = app.engine.market.book("paper", SYMBOL)
        assert book is not None and book.best_bid is not None
        tick = app.engine.instrument("paper", SYMBOL).tick_size
        near_stop = book.best_bid - 3 * tick  # on the ladder
        far_take = (mark(app) * D("1.2")).quantize(D("0.01"))  # far above it and above the chart
        await app.engine.set_protection("paper", SYMBOL, stop_loss=near_stop, take_profit=far_take)
        await settle(pilot)
        ladder = app.screen.query_one(OrderBookLadder).render().plain.splitlines()
        assert any(f"{near_stop:,.2f}" in line and line.rstrip().endswith("S") for line in ladder), "on the ladder"
        assert any(f"T↑{far_take:,.2f}" in line for line in ladder), "off the ladder: named on the spread line"
        chart = app.screen.query_one(PriceChart).render().plain.splitlines()
        assert chart[1].rstrip().endswith(f"T↑{far_take:,.2f}"), "above the chart's range: on its top row"
        labels = (f"S{near_stop:>10,.2f}", f"S↓{near_stop:>9,.2f}", f"S↑{near_stop:>9,.2f}")
        assert sum(line.rstrip().endswith(labels) for line in chart[1:]) == 1, "the stop is labelled on the axis"


async def test_quitting_asks_only_while_engine_side_levels_are_watched(
    make_app: Callable[..., OpenTradeApp], clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_position(pilot, clock)
        stop = (mark(app) * D("0.95")).quantize(D("0.01"))
        await app.engine.set_protection("paper", SYMBOL, stop_loss=stop, take_profit=None)
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#body", Static).render())
        assert body.startswith("1 engine-side level(s) on 1 position(s) will stop being watched when OpenTrade quits")
        assert f"BTC/USDT long on paper: stop-loss {stop:,.2f}" in body
        await pilot.press("escape")
        await settle(pilot)
        assert app.return_code is None and not isinstance(app.screen, ConfirmScreen)
        await app.engine.set_protection("paper", SYMBOL, stop_loss=None, take_profit=None)
        await pilot.press("ctrl+q")
        for _ in range(50):
            if app.return_code is not None:
                break
            await pilot.pause(0.01)
    assert app.return_code == 0
