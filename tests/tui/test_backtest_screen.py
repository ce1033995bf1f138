"""The Backtest screen: a run from the keyboard matches the backtester called directly, bad
input is refused next to its field without running, and a snapshot after a run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static, Switch

from core.backtest.data import SAMPLE_CANDLES, load_bars
from core.backtest.engine import backtest_async
from core.backtest.result import BacktestSettings
from core.strategies.registry import strategy_class
from tests.tui.conftest import settle, wait_ready
from tui.app import OpenTradeApp
from tui.screens.backtest import BacktestScreen

DATA = Path(__file__).resolve().parents[1] / "data" / "binance_BTC_USDT-1h-5000.csv"
WORKER_POLLS = 1000


async def open_screen(pilot: Pilot[Any]) -> BacktestScreen:
    await wait_ready(pilot)
    await pilot.press("7")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, BacktestScreen)
    return screen


async def type_into(pilot: Pilot[Any], widget_id: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{widget_id}", Input).focus()
    await pilot.press("ctrl+u", *text)


async def wait_for_backtest(pilot: Pilot[Any]) -> None:
    """Bounded wait on the screen's worker (running in a thread) to finish."""
    app = pilot.app
    for _ in range(WORKER_POLLS):
        if not [w for w in app.workers if w.group == "backtest" and not w.is_finished]:
            break
        await pilot.pause(0.01)
    assert not [w for w in app.workers if w.group == "backtest" and not w.is_finished], "the backtest did not finish"
    await settle(pilot)


def message(screen: BacktestScreen, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}", Static).render())


async def run_again(pilot: Pilot[Any]) -> None:
    await pilot.press("ctrl+r")
    await settle(pilot)


def ran_nothing(app: OpenTradeApp, screen: BacktestScreen) -> bool:
    return screen.result is None and not [w for w in app.workers if w.group == "backtest"]


async def fill_and_run(pilot: Pilot[Any], screen: BacktestScreen, fast: str, slow: str, data: str) -> None:
    select = screen.query_one("#bt-strategy", Select)
    select.value = "mean_reversion"
    await settle(pilot)
    assert screen.query("#bt-param-period") and not screen.query("#bt-param-fast")
    select.value = "sma_cross"
    await settle(pilot)
    assert screen.query_one("#bt-param-slow", Input).value == "100", "fields start at the declared defaults"
    await type_into(pilot, "bt-param-fast", fast)
    await type_into(pilot, "bt-param-slow", slow)
    await type_into(pilot, "bt-data", data)
    await type_into(pilot, "bt-fee", "0.002")
    await type_into(pilot, "bt-cash", "5000")
    await pilot.press("ctrl+r")
    await wait_for_backtest(pilot)


async def expected_trades(fast: int, slow: int) -> int:
    bars = load_bars(DATA)
    result = await backtest_async(strategy_class("sma_cross"), bars, {"fast": fast, "slow": slow}, BacktestSettings(cash=5000, fee=0.002))
    return result.metrics.trades


async def test_run_matches_the_backtester(make_app: Any) -> None:
    app: OpenTradeApp = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot)
        await fill_and_run(pilot, screen, "10", "30", str(DATA))
        rows = dict(screen.query_one("#bt-metrics", DataTable).get_row_at(i) for i in range(10))
        expected = await expected_trades(10, 30)
        assert expected > 0
        assert rows["Trades"] == str(expected)
        assert screen.query_one("#bt-trades", DataTable).row_count == expected
        assert screen.result is not None and screen.result.params["fast"] == 10
        assert message(screen, "bt-data-error") == ""


async def test_bad_parameter_and_missing_file_run_nothing(make_app: Any, tmp_path: Path) -> None:
    app: OpenTradeApp = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot)
        await fill_and_run(pilot, screen, "0", "30", str(DATA))
        assert "fast" in message(screen, "bt-param-error-fast") and "out of bounds" in message(screen, "bt-param-error-fast")
        assert ran_nothing(app, screen)

        await type_into(pilot, "bt-param-fast", "40")
        await run_again(pilot)
        assert message(screen, "bt-param-error-fast") == ""
        assert "must be smaller than slow" in message(screen, "bt-params-error")
        assert ran_nothing(app, screen)

        await type_into(pilot, "bt-param-fast", "10")
        await type_into(pilot, "bt-fee", "lots")
        await run_again(pilot)
        assert "not a number" in message(screen, "bt-fee-error")
        assert ran_nothing(app, screen)

        await type_into(pilot, "bt-fee", "0.001")
        await type_into(pilot, "bt-cash", "-5")
        await run_again(pilot)
        assert message(screen, "bt-fee-error") == ""
        assert "cash must be greater than 0" in message(screen, "bt-cash-error")
        assert ran_nothing(app, screen)

        await type_into(pilot, "bt-cash", "5000")
        missing = tmp_path / "nowhere.csv"
        await type_into(pilot, "bt-data", str(missing))
        await pilot.press("ctrl+r")
        await wait_for_backtest(pilot)
        assert "no such file" in message(screen, "bt-data-error") and "nowhere.csv" in message(screen, "bt-data-error")
        assert screen.result is None
        assert screen.query_one("#bt-metrics", DataTable).row_count == 0


# The data path is typed relative to the working directory (the project root, where pytest runs)
# so the picture does not depend on where the checkout lives.
def test_backtest_screen_after_a_run(snap_compare: Any, make_app: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_screen(pilot)
        await fill_and_run(pilot, screen, "10", "30", os.path.relpath(DATA))
        screen.query_one("#bt-trades").focus()
        screen.query_one("#backtest-form").scroll_home(animate=False)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)


async def test_a_first_backtest_runs_on_the_shipped_sample_beside_buy_and_hold(make_app: Any) -> None:
    """No file to find: the data field starts at the sample in the package, ctrl+r runs it, and
    the strategy's return stands beside holding the market over the same candles."""
    app: OpenTradeApp = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot)
        assert screen.query_one("#bt-data", Input).value == str(SAMPLE_CANDLES) and SAMPLE_CANDLES.exists()
        await pilot.press("ctrl+r")
        await wait_for_backtest(pilot)
        assert screen.result is not None and len(screen.result.ts) == 3000
        table = screen.query_one("#bt-metrics", DataTable)
        rows = dict(table.get_row_at(i) for i in range(table.row_count))
        sample = load_bars(SAMPLE_CANDLES)
        holding = sample.close[-1] / sample.open[0] * (1 - 0.001) ** 2 - 1
        assert rows["Buy and hold"] == f"{holding * 100:+.2f}%" == "-49.96%"
        assert rows["Total return"] == f"{screen.result.metrics.total_return * 100:+.2f}%"


async def test_allow_gaps_backtests_a_file_with_missing_candles(make_app: Any, tmp_path: Path) -> None:
    lines = SAMPLE_CANDLES.read_text().splitlines()
    gappy = tmp_path / "gappy.csv"
    gappy.write_text("\n".join(lines[:100] + lines[103:400]) + "\n")  # three hours missing
    app: OpenTradeApp = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_screen(pilot)
        screen.query_one("#bt-data", Input).value = str(gappy)
        await run_again(pilot)
        await wait_for_backtest(pilot)
        assert "gap of 3 missing 1h candle(s)" in message(screen, "bt-data-error") and screen.result is None
        switch = screen.query_one("#bt-allow-gaps", Switch)
        switch.focus()
        await pilot.press("space")
        assert switch.value
        await run_again(pilot)
        await wait_for_backtest(pilot)
        assert message(screen, "bt-data-error") == ""
        assert screen.result is not None and len(screen.result.ts) == 396
