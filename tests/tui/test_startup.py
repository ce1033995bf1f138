"""The start-up order of the app: the market is on screen before the strategies and agents
are attached, the screens that show them work before and after, and a service that cannot
start ends the app with the reason, as a failed engine start does."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.widgets import DataTable, Static

from agents.scheduler import AnalysisScheduler
from core.engine import TradingEngine
from core.strategies.live import LiveStrategies
from runtime.wiring import attach_services
from tests.tui.conftest import READY_POLLS, settle
from tui.screens.agents import AgentsScreen
from tui.screens.strategies import StrategiesScreen
from tui.screens.trade import TradeScreen
from tui.widgets.order_book import OrderBookLadder

GATE_TIMEOUT_S = 30


def shown(screen: Any, widget_id: str) -> str:
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(screen.query_one(f"#{widget_id}", Static).content)
    return console.export_text()


async def test_services_start_after_the_first_screen_and_the_screens_work_before_and_after(make_app: Any) -> None:
    gate = asyncio.Event()
    at_attach: dict[str, Any] = {}

    async def attach(engine: TradingEngine) -> None:
        screen = app.screen
        at_attach["screen"] = screen
        at_attach["book"] = screen.query_one(OrderBookLadder).book if isinstance(screen, TradeScreen) else None
        async with asyncio.timeout(GATE_TIMEOUT_S):
            await gate.wait()
        await attach_services(engine)

    app = make_app(attach_services=attach)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(READY_POLLS):
            if "screen" in at_attach:
                break
            await pilot.pause(0.01)
        assert isinstance(at_attach.get("screen"), TradeScreen), "the services are attached once the trade screen is up"
        assert at_attach["book"] is not None, "...and shows the order book"
        engine = app.engine
        assert app.is_ready and not app.services_ready
        before = engine.strategies
        assert before is None and engine.services == []

        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, StrategiesScreen)
        assert app.screen.query_one("#strategies", DataTable).row_count == 0
        assert "Starting the strategies" in shown(app.screen, "strategy-detail")
        await pilot.press("space", "e")
        await settle(pilot)
        assert isinstance(app.screen, StrategiesScreen), "start/stop and edit wait for a strategy, nothing breaks"
        assert "Start/stop" in [command.title for command in app.palette_commands(app.screen)]

        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, AgentsScreen)
        assert "No agent decisions yet" in shown(app.screen, "opinions")

        await pilot.press("3")
        await settle(pilot)
        gate.set()
        for _ in range(READY_POLLS):
            if app.services_ready:
                break
            await pilot.pause(0.01)
        assert app.services_ready
        await settle(pilot)
        kinds = [type(service) for service in engine.services]
        assert kinds.index(LiveStrategies) < kinds.index(AnalysisScheduler), "strategies before the agents"
        [info] = engine.strategies.list_strategies()
        assert info.state == "running"
        table = app.screen.query_one("#strategies", DataTable)
        assert [str(key.value) for key in table.rows] == [info.strategy_id], "the visible screen is redrawn"
        assert info.strategy_id in shown(app.screen, "strategy-detail")

        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, AgentsScreen)
        assert app.return_code is None


async def test_a_service_that_cannot_start_ends_the_app_with_the_reason(make_app: Any) -> None:
    async def broken(engine: TradingEngine) -> None:
        raise ValueError("strategy 'grid': levels must be at least 2")

    app = make_app(attach_services=broken)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(READY_POLLS):
            if app.return_code is not None:
                break
            await pilot.pause(0.01)
    assert app.return_code == 2


HEAVY_MODULES = ("core.strategies.runner", "core.strategies.live", "agents.scheduler", "agents.team", "pandas")
IMPORTS_SEEN = f"""
import asyncio, sys, tempfile, threading
from pathlib import Path

on_the_loop_thread = set()

def seen(event, args):
    if event == "import" and args[0] in {HEAVY_MODULES!r} and threading.current_thread() is threading.main_thread():
        on_the_loop_thread.add(args[0])

sys.addaudithook(seen)
from core.clock import SimClock
from core.config import AppConfig
from runtime.wiring import attach_services, build_engine

async def main():
    engine = await build_engine(AppConfig(), Path(tempfile.mkdtemp()), seed=1, clock=SimClock(0), services=False)
    try:
        await attach_services(engine)
        assert engine.strategies is not None and engine.services
    finally:
        await engine.close()

asyncio.run(main())
print(sorted(on_the_loop_thread))
"""


def test_the_strategies_and_agents_are_imported_off_the_loop_thread() -> None:
    """Their imports (numpy, pandas, aiohttp: about 0.3 s) held every key and frame of the
    running app; now they run on a thread. A fresh interpreter, so nothing is imported yet."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", IMPORTS_SEEN], capture_output=True, text=True, cwd=root,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout


ENGINE_MODULES = ("core.engine", "core.events", "core.stream", "core.views", "core.risk", "core.storage", "exchanges",
                  "runtime.wiring", "agents", "numpy", "pandas", "aiohttp", "ccxt")
FIRST_FRAME_IMPORTS = f"""
import asyncio, sys
from runtime.session import LocalSession
from tui.app import OpenTradeApp

seen = []

async def factory():
    seen.extend(sorted(name for name in sys.modules if name.startswith({ENGINE_MODULES!r})))
    raise RuntimeError("stop after the first frame")

async def main():
    app = OpenTradeApp(LocalSession(factory), restore=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.return_code is None:
            await pilot.pause(0.01)

asyncio.run(main())
print(seen)
"""


def test_the_first_frame_imports_none_of_the_engine() -> None:
    """The engine is built once the Trade screen has painted; by then nothing of the engine,
    its events or its dependencies is imported (they took a tenth of a second of the start-up).
    A fresh interpreter, so nothing is imported yet."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", FIRST_FRAME_IMPORTS], capture_output=True, text=True, cwd=root,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
