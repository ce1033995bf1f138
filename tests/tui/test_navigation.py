"""Screens, themes, the market selector, the command palette and what is remembered."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.widgets import OptionList

from core.clock import SimClock
from core.config import AppConfig
from runtime.session import LocalSession
from tests.tui.conftest import advance, settle, until, wait_ready
from themes.registry import theme_names
from tui.app import OpenTradeApp
from tui.format import fmt_price
from tui.screens.help import HelpScreen
from tui.screens.market_selector import MarketSelectorScreen


async def test_number_keys_reach_every_screen(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        for key, mode in (("2", "positions"), ("3", "strategies"), ("4", "risk"), ("5", "agents"), ("6", "log"),
                          ("1", "trade")):
            await pilot.press(key)
            await settle(pilot, rounds=1)
            assert app.current_mode == mode
        await pilot.press("question_mark")
        await settle(pilot, rounds=1)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.current_mode == "trade" and not isinstance(app.screen, HelpScreen)


async def test_market_selector_fuzzy_search_and_restore_on_restart(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert app.market == ("paper", "BTC/USDT")
        await pilot.press("m")
        await settle(pilot, rounds=1)
        assert isinstance(app.screen, MarketSelectorScreen)
        await pilot.press(*"eth")
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(0).id == "paper|ETH/USDT"
        await pilot.press("enter")
        await advance(pilot, clock, 1)
        assert app.market == ("paper", "ETH/USDT")
        assert "ETH/USDT" in str(app.screen.query_one("#ticket-title").render())
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        chosen_theme = app.theme
        assert chosen_theme == theme_names()[1]

    again = make_app()
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert again.market == ("paper", "ETH/USDT")
        assert again.current_mode == "positions"
        assert again.theme == chosen_theme


async def test_market_picker_shows_last_price_and_the_change_over_the_day(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await pilot.press("m")
        await settle(pilot, rounds=1)
        options = app.screen.query_one(OptionList)
        rows = {options.get_option_at_index(i).id: str(options.get_option_at_index(i).prompt)
                for i in range(options.option_count)}
        assert len(rows) == len(app.engine.instruments("paper"))
        for venue_symbol, text in rows.items():
            venue, symbol = venue_symbol.split("|")
            ticker = app.engine.market.ticker(venue, symbol)
            assert ticker is not None and ticker.last is not None and ticker.reference_price
            change = (ticker.last - ticker.reference_price) / ticker.reference_price * 100
            last = fmt_price(ticker.last, app.engine.instrument(venue, symbol).price_decimals)
            assert text.split() == [symbol, "perp" if ":" in symbol else "spot", venue, last, f"{change:+.2f}%", "24h"]


async def test_theme_option_wins_over_the_saved_one(make_app: Any) -> None:
    app = make_app(theme="opentrade-high-contrast")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        assert app.theme == "opentrade-high-contrast"
        for _ in theme_names():
            await pilot.press("ctrl+t")
        assert app.theme == "opentrade-high-contrast"


async def test_command_palette_reaches_screens_and_actions(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        titles = [command.title for command in app.palette_commands(app.screen)]
        for expected in ("Go to Risk", "Emergency stop", "Reset risk state", "Market ETH/USDT on paper",
                         "Theme opentrade-colorblind", "Buy", "Sell", "Market"):
            assert expected in titles
        await pilot.press("ctrl+p")
        await settle(pilot, rounds=1)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go to log")
        hits = app.screen.query_one(CommandList)
        for _ in range(300):
            if hits.highlighted == 0 and "Go to Log" in str(hits.get_option_at_index(0).prompt):
                break
            await pilot.pause(0.01)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "log"


async def test_startup_failure_is_a_message_not_a_traceback(tmp_path: Any) -> None:
    async def broken() -> Any:
        raise ValueError("venue 'nowhere' is not configured")

    app = OpenTradeApp(LocalSession(broken))
    async with app.run_test() as pilot:
        for _ in range(50):
            if app.return_code is not None:
                break
            await pilot.pause(0.01)
    assert app.return_code == 2


async def test_user_keymap_rebinds_by_binding_id(make_app: Any) -> None:
    config = AppConfig()
    config.ui.keymap = {"screen-risk": "f5"}
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f5")
        await settle(pilot, rounds=1)
        assert app.current_mode == "risk"


async def test_hidden_screens_and_screens_under_a_dialog_are_not_redrawn(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        positions = app.get_screen_stack("positions")[0]
        trade = app.screen
        drawn: list[str] = []
        positions.refresh_view = lambda changes: drawn.append("positions")  # type: ignore[method-assign]
        trade.refresh_view = lambda changes: drawn.append("trade")  # type: ignore[method-assign]
        await advance(pilot, clock, 1)
        assert drawn and set(drawn) == {"trade"}

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")  # a loaded machine answers late
        drawn.clear()
        await advance(pilot, clock, 1)
        assert drawn == []


async def test_a_screen_coming_back_is_restyled_only_if_the_styles_changed_while_away(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        trade = app.screen
        restyled: list[str] = []
        original = trade.update_node_styles

        def counted(animate: bool = True) -> None:
            restyled.append(app.theme)
            original(animate)

        trade.update_node_styles = counted  # type: ignore[method-assign]
        for _ in range(2):
            await pilot.press("2")
            await settle(pilot, rounds=1)
            await pilot.press("1")
            await settle(pilot, rounds=1)
        assert restyled == [], "nothing changed: the trade screen keeps its styles"
        before = trade.styles.background
        await pilot.press("2")
        await settle(pilot, rounds=1)
        positions = app.screen
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert app.screen is trade and app.theme == theme_names()[1]
        assert trade.styles.background == positions.styles.background != before


async def test_only_the_first_visit_of_a_screen_holds_the_paint_while_it_is_built(make_app: Any,
                                                                                  monkeypatch: Any) -> None:
    holds: list[str] = []
    original = App.delay_update

    def recorded(self: App[Any], delay: float = 0.05) -> None:
        holds.append(self.current_mode)
        original(self, delay)

    monkeypatch.setattr(App, "delay_update", recorded)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        holds.clear()
        for key in ("3", "1", "3", "1"):
            await pilot.press(key)
            await settle(pilot, rounds=1)
        assert holds == ["trade"], "only leaving trade for strategies the first time, before it was built"
        assert app.current_mode == "trade"
