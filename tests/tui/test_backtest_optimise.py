"""The Backtest screen's optimisation: a search started from the keyboard finds what the
optimiser finds called directly, shows its progress, saves the best as a new version of a
configured strategy after a confirmation, refuses bad settings next to their field, and a
snapshot after a search."""

from __future__ import annotations

import json
import os
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input, ProgressBar, Select, SelectionList, Static

from core.backtest.data import load_bars
from core.backtest.optimizer import SearchSettings, optimize
from core.backtest.result import BacktestSettings
from core.config import AppConfig, StrategyConfig
from core.strategies.sma_cross import SmaCross
from tests.tui.conftest import settle
from tests.tui.test_backtest_screen import DATA, WORKER_POLLS, message, open_screen, type_into
from tui.app import OpenTradeApp
from tui.screens.backtest import BacktestScreen
from tui.screens.confirm import ConfirmScreen
from tui.widgets.optimize_panel import OptimizePanel

CONFIG = AppConfig(strategies={"btc_sma": StrategyConfig(kind="sma_cross", fast=10, slow=30)})  # type: ignore[call-arg]


async def wait_for(pilot: Pilot[Any], group: str) -> None:
    """Bounded wait on the screen's workers of ``group`` to finish."""
    app = pilot.app
    for _ in range(WORKER_POLLS):
        if not [w for w in app.workers if w.group == group and not w.is_finished]:
            break
        await pilot.pause(0.01)
    assert not [w for w in app.workers if w.group == group and not w.is_finished], f"{group} did not finish"
    await settle(pilot)


async def grid_search(pilot: Pilot[Any], screen: BacktestScreen, data: str) -> OptimizePanel:
    """Data file, a grid of 4 points over fast and slow (the form's parameters fix invest), ctrl+o."""
    screen.query_one("#bt-data", Input).value = data  # typed in the Backtest tests; the search fields are typed here
    screen.query_one("#bt-opt-method", Select).focus()
    await pilot.press("enter", "down", "enter")  # genetic -> grid
    await type_into(pilot, "bt-opt-grid-points", "4")
    await pilot.press("ctrl+o")
    await wait_for(pilot, "optimise")
    return screen.query_one(OptimizePanel)


async def test_a_grid_search_from_the_keyboard_matches_the_optimiser_and_saves_a_version(make_app: Any) -> None:
    app: OpenTradeApp = make_app(CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot)
        panel = await grid_search(pilot, screen, str(DATA))
        expected = optimize(SmaCross, load_bars(DATA), SearchSettings(method="grid", grid_points=4, only=("fast", "slow")),
                            BacktestSettings(), base=SmaCross.validate_params({}))
        assert panel.result is not None and panel.result.best == expected.best and panel.result.top == expected.top
        bar = screen.query_one("#bt-opt-progress", ProgressBar)
        assert bar.total == bar.progress == 16 - 3  # the 4 x 4 grid less the pairs with fast >= slow
        assert message(screen, "bt-opt-status") == "13/13 evaluations (13 backtests run)"
        best = message(screen, "bt-opt-best")
        assert f"fast={expected.best.params['fast']}, slow={expected.best.params['slow']}" in best and "sharpe" in best

        assert screen.query_one("#bt-opt-target", Select).value == "btc_sma"
        save = screen.query_one("#bt-opt-save", Button)
        assert not save.disabled
        save.focus()
        await pilot.press("enter")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and "btc_sma takes fast=" in str(dialog.query_one("#body", Static).render())
        await pilot.press("ctrl+y")
        await wait_for(pilot, "optimise-save")
        runner = app.engine.strategies
        (info,) = [i for i in runner.list_strategies() if i.strategy_id == "btc_sma"]
        assert info.params == expected.best.params
        versions = await runner.versions.strategy_versions("btc_sma")
        assert versions[-1]["params"] == expected.best.params
        assert json.loads(versions[-1]["note"]) == {"optimize": "grid", "objective": "sharpe", "score": expected.best.score}


async def test_bad_search_settings_run_nothing(make_app: Any) -> None:
    app: OpenTradeApp = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot)
        panel = screen.query_one(OptimizePanel)

        def ran_nothing() -> bool:
            return panel.result is None and not [w for w in app.workers if w.group == "optimise"]

        data = screen.query_one("#bt-data", Input)
        data.value = str(DATA)  # typing a path is the Backtest tests' business; here the search fields
        await type_into(pilot, "bt-opt-population", "lots")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "'lots' is not a whole number" in message(screen, "bt-opt-population-error") and ran_nothing()

        await type_into(pilot, "bt-opt-population", "1")
        await pilot.press("enter")  # Enter in a search field optimises, it does not run a backtest
        await settle(pilot)
        assert message(screen, "bt-opt-population-error") == ""
        assert "population of at least 2" in message(screen, "bt-opt-error") and ran_nothing()
        assert screen.result is None

        await type_into(pilot, "bt-opt-population", "6")
        screen.query_one("#bt-opt-space", SelectionList).deselect_all()
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "choose at least one parameter to search" in message(screen, "bt-opt-error") and ran_nothing()

        screen.query_one("#bt-opt-space", SelectionList).select_all()
        data.value = "nowhere.csv"
        await pilot.press("ctrl+o")
        await wait_for(pilot, "optimise")
        assert "nowhere.csv" in message(screen, "bt-opt-error") and panel.result is None
        assert screen.query_one("#bt-opt-save", Button).disabled

        screen.query_one("#bt-strategy", Select).value = "ai_trend_following"
        await settle(pilot)
        assert [o.value for o in screen.query_one("#bt-opt-space", SelectionList).options][0] == "confidence_threshold"
        data.value = str(DATA)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "trades on agent signals" in message(screen, "bt-opt-error") and ran_nothing()


# The data path is relative to the project root, where pytest runs, so the picture does not
# depend on where the checkout lives.
def test_backtest_screen_after_an_optimisation(snap_compare: Any, make_app: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_screen(pilot)
        await grid_search(pilot, screen, os.path.relpath(DATA))
        screen.query_one("#bt-opt-run").focus()
        screen.query_one("#backtest-form").scroll_end(animate=False)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(make_app(CONFIG), terminal_size=(120, 40), run_before=run_before)
