"""Keys: none is lost or misrouted, whether typed while the app starts or in a burst; text fields
take every single-letter key; Escape leaves a field; every dialog starts in its first field
and shows its own keys; b/s and the Positions tabs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual.binding import Binding
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select, TabbedContent

from core.clock import SimClock
from core.models import OrderRequest, OrderType, Side
from tests.tui.conftest import advance, burst, character_of, settle, wait_ready
from tui.app import MAIN_SCREENS, OpenTradeApp, main_screen
from tui.screens.confirm import ConfirmScreen
from tui.screens.dialog import Dialog
from tui.screens.edit_order import EditOrderScreen
from tui.screens.edit_params import EditParamsScreen
from tui.screens.help import HelpScreen
from tui.screens.market_selector import MarketSelectorScreen
from tui.widgets.footer import KeysFooter, OfferedKey

SYMBOL = "BTC/USDT"
DIALOGS: list[type[Dialog[Any]]] = [ConfirmScreen, EditOrderScreen, EditParamsScreen, HelpScreen, MarketSelectorScreen]


def single_character_keys() -> list[str]:
    """Every key bound to a printable character anywhere: the app, every screen, every dialog."""
    keys: list[str] = []
    for owner in (OpenTradeApp, *map(main_screen, MAIN_SCREENS), *DIALOGS):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding)
            for key in binding.key.split(","):
                character = character_of(key)
                if character is not None and character.isprintable() and key not in keys:
                    keys.append(key)
    return keys


LETTERS = single_character_keys()
TEXT = "".join(character_of(key) or "" for key in LETTERS)


def _app(pilot: Pilot[Any]) -> OpenTradeApp:
    assert isinstance(pilot.app, OpenTradeApp)
    return pilot.app


async def place_resting_order(pilot: Pilot[Any], clock: SimClock) -> None:
    app = _app(pilot)
    await advance(pilot, clock, 2)
    book = app.engine.market.book("paper", SYMBOL)
    assert book is not None and book.best_bid is not None
    price = app.engine.instrument("paper", SYMBOL).round_price(book.best_bid * Decimal("0.99"))
    await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                                              size=Decimal("0.01"), price=price, client_order_id="ot-keys-limit"))
    await settle(pilot)


async def test_keys_typed_while_the_app_starts_reach_the_ticket_in_order(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.current_mode == app.DEFAULT_MODE, "the keys are typed before the trade screen exists"
        await burst(pilot, "o", "0", "full_stop", "0", "0", "1")
        await wait_ready(pilot)
        assert app.current_mode == "trade"
        size = app.screen.query_one("#size", Input)
        assert size.value == "0.001"
        assert app.focused is size


async def test_a_burst_after_a_key_that_moves_the_focus_lands_in_the_field(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await burst(pilot, "o", "0", "full_stop", "0", "0", "1")
        assert app.screen.query_one("#size", Input).value == "0.001"
        await pilot.press("escape")
        await burst(pilot, "2", "f", "b", "t", "c")
        assert app.current_mode == "positions"
        assert app.screen.query_one("#filter", Input).value == "btc"


# screen key, the key that puts the focus in a text field, the field, where Escape leaves the focus
FIELDS = {
    "trade": ("1", "o", "#size", None),
    "positions": ("2", "f", "#filter", "#table-positions"),
    "log": ("6", "f", "#filter", "#audit"),
    "backtest": ("7", "ctrl+r", "#bt-data", None),  # Run with the data file cleared: refused, the focus goes to it
}


async def test_a_text_field_takes_every_single_letter_key_and_escape_leaves_it_on_every_screen(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        for name, (screen_key, focus_key, field, rests_on) in FIELDS.items():
            await pilot.press(screen_key)
            await settle(pilot)
            mode, screen = app.current_mode, app.screen
            if name == "backtest":  # the shipped sample is the default file
                app.screen.query_one(field, Input).value = ""
            await burst(pilot, focus_key, *LETTERS)
            assert (app.current_mode, app.screen) == (mode, screen), f"{name}: a key switched screens or opened a dialog"
            typed = app.screen.query_one(field, Input)
            assert app.focused is typed and typed.value == TEXT, f"{name}: every key typed went into {field}"

            await pilot.press("escape")
            await settle(pilot)
            assert app.focused is (app.screen.query_one(rests_on) if rests_on else None), f"{name}: Escape left {field}"
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen), f"{name}: single-letter keys act again"
            await pilot.press("escape")
            await settle(pilot)


async def test_a_dialog_opened_by_a_key_takes_the_keys_typed_right_after_it(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await place_resting_order(pilot, clock)
        live = ConfirmScreen("Switch to LIVE", "Type the venue name.", require_text="binance", danger=True)
        dialogs: list[tuple[tuple[str, ...], type[Dialog[Any]], str]] = [
            (("m",), MarketSelectorScreen, "#query"),
            (("3", "e"), EditParamsScreen, "Input"),
            (("2", "o", "e"), EditOrderScreen, "#price"),
            ((), ConfirmScreen, "#typed"),  # the go-live confirmation, opened by the app itself
        ]
        for keys, dialog, first in dialogs:
            if not keys:
                app.push_screen(live)
            await burst(pilot, *keys, *LETTERS)
            assert isinstance(app.screen, dialog)
            field = app.screen.query(first).first(Input)
            assert app.focused is field, f"{dialog.__name__} starts in its first field"
            assert field.value.endswith(TEXT), f"{dialog.__name__}: every key typed after the one opening it is in the field"
            await pilot.press("escape")
            await settle(pilot)


async def test_b_and_s_set_the_side_and_move_to_the_size(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        side = app.screen.query_one("#side", Select)
        await burst(pilot, "s", "1")
        assert side.value is Side.SELL
        size = app.screen.query_one("#size", Input)
        assert app.focused is size and size.value == "1"
        await pilot.press("escape")
        await burst(pilot, "b", "2")
        assert side.value is Side.BUY
        assert app.focused is size and size.value == "2", "the size typed replaces the old one (selected on focus)"


async def test_the_positions_tabs_have_keys(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("2")
        await settle(pilot)
        tabs = app.screen.query_one(TabbedContent)
        for key, name in (("h", "history"), ("i", "fills"), ("b", "balances"), ("o", "orders"), ("p", "positions")):
            await pilot.press(key)
            await settle(pilot)
            assert tabs.active == f"tab-{name}"
            assert app.focused is app.screen.query_one(f"#table-{name}", DataTable)
        sections = dict(app.key_sections())
        assert ("h", "History tab") in sections["Positions & Orders"]


def footer_keys(screen: Screen[Any]) -> dict[str, OfferedKey]:
    return {key.action: key for key in screen.query_one(KeysFooter).keys}


async def test_every_dialog_starts_in_its_first_field_and_its_footer_shows_its_keys(make_app: Any,
                                                                                   clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await place_resting_order(pilot, clock)
        opened: list[type[Screen[Any]]] = []

        async def check(keys: tuple[str, ...], dialog: type[Screen[Any]], first: str, shown: set[str]) -> None:
            await pilot.press(*keys)
            await settle(pilot)
            assert isinstance(app.screen, dialog)
            assert app.focused is app.screen.query(first).first(), f"{dialog.__name__} starts in {first}"
            assert shown <= set(footer_keys(app.screen)), f"{dialog.__name__} footer"
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(app.screen, dialog)
            opened.append(dialog)

        await check(("m",), MarketSelectorScreen, "#query", {"cancel"})
        await check(("question_mark",), HelpScreen, "VerticalScroll", {"dismiss"})
        await check(("2", "o", "e"), EditOrderScreen, "#price", {"cancel", "apply"})
        await check(("C",), ConfirmScreen, "#cancel", {"cancel", "confirm"})
        await check(("3", "e"), EditParamsScreen, "Input", {"cancel", "submit"})
        app.push_screen(ConfirmScreen("Switch to LIVE", "Type the venue name.", require_text="binance"))
        await settle(pilot)
        assert app.focused is app.screen.query_one("#typed")
        assert set(opened) | {ConfirmScreen} == set(DIALOGS)
