"""The app's first frame comes before the engine: the Trade screen shows its starting state at
once, what the trader types meanwhile stays in the ticket, and every action that needs the engine
(an order, the emergency stop, cancel or close all, the book's price, another screen) is refused
with a message instead of being held and done later. Once the engine is ready the same keys work."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Input, Static

from core.clock import SimClock
from core.config import AppConfig
from core.models import RiskState
from runtime.session import LocalSession
from runtime.wiring import attach_services, build_engine
from tests.tui.conftest import SEED, settle, until, wait_ready
from tui.app import OpenTradeApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.trade import TradeScreen
from tui.widgets.status_bar import StatusBar

GATE_TIMEOUT_S = 30


def gated_app(home: Path, clock: SimClock, gate: asyncio.Event) -> OpenTradeApp:
    """The app over an engine whose start waits for ``gate``: the starting state lasts as long
    as the test needs, as a slow storage or venue would make it last."""

    async def factory() -> Any:
        async with asyncio.timeout(GATE_TIMEOUT_S):
            await gate.wait()
        return await build_engine(AppConfig(), home, seed=SEED, clock=clock, services=False)

    return OpenTradeApp(LocalSession(factory, attach_services))


@pytest.fixture
def gate() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def gated(app_home: Path, clock: SimClock, gate: asyncio.Event) -> OpenTradeApp:
    return gated_app(app_home, clock, gate)


def text_of(app: OpenTradeApp, widget: Any) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    if isinstance(widget, Static):
        console.print(widget.content)
    else:
        for line in widget.draw():
            console.print("".join(text for text, _ in line))
    return console.export_text()


async def starting_screen(pilot: Any) -> TradeScreen:
    """The Trade screen, once mounted in its starting state."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, TradeScreen) and app.screen.is_mounted, "the Trade screen")
    await pilot.pause()
    assert isinstance(app.screen, TradeScreen) and not app.is_ready
    return app.screen


def messages(app: OpenTradeApp) -> list[str]:
    return [str(notification.message) for notification in app._notifications]  # noqa: SLF001


async def test_while_the_engine_starts_orders_and_the_emergency_stop_are_refused_and_typing_stays(
        gated: OpenTradeApp, gate: asyncio.Event) -> None:
    app = gated
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await starting_screen(pilot)
        assert "engine starting" in text_of(app, screen.query_one(StatusBar))
        assert "Engine starting" in text_of(app, screen.query_one("#market-line", Static))

        await pilot.press("b", "0", ".", "0", "1", "enter")
        await until(pilot, lambda: app.keys_idle, "the keys handled")
        assert screen.query_one("#size", Input).value == "0.01", "typed into the ticket while starting"
        assert "refused, the engine is starting" in text_of(app, screen.query_one("#form-error", Static))
        assert any("engine is starting; nothing was sent" in message for message in messages(app))

        await pilot.press("escape", "2", "p", "ctrl+k")
        await until(pilot, lambda: app.keys_idle, "the keys handled")
        assert app.screen is screen, "no other screen and no dialog while starting"
        refusals = messages(app)
        for what in ("Another screen", "The price from the book", "Emergency stop"):
            assert any(message.startswith(f"{what}: refused, the engine is still starting") for message in refusals), what
        app.action_cancel_all()  # on the Positions screen and in the palette, neither open while starting
        app.action_close_all()
        await pilot.pause()
        assert any(message.startswith("Cancel all orders: refused") for message in messages(app))
        assert any(message.startswith("Close all positions: refused") for message in messages(app))

        gate.set()
        await wait_ready(pilot)
        await settle(pilot)
        assert app.screen is screen and app.current_mode == "trade", "nothing refused was done once ready"
        engine = app.engine
        assert engine.open_orders() == [] and await engine.order_history(limit=10) == []
        assert engine.risk.state is RiskState.ACTIVE
        assert screen.query_one("#size", Input).value == "0.01", "the ticket keeps what was typed"
        assert text_of(app, screen.query_one("#form-error", Static)).strip() == ""
        assert "engine starting" not in text_of(app, screen.query_one(StatusBar))


async def test_once_ready_the_size_typed_while_starting_is_sent_and_the_emergency_stop_opens(
        gated: OpenTradeApp, gate: asyncio.Event) -> None:
    app = gated
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await starting_screen(pilot)
        await pilot.press("b", "0", ".", "0", "1")
        await until(pilot, lambda: app.keys_idle, "the keys handled")

        gate.set()
        await wait_ready(pilot)
        await settle(pilot)
        assert "PAPER" in text_of(app, screen.query_one(StatusBar))
        assert screen.query_one("#size", Input).has_focus, "still in the size field"
        await pilot.press("escape", "p", "o", "enter")  # the book's price, back to the size, send
        await until(pilot, lambda: len(app.engine.open_orders()) == 1, "the order placed")
        [order] = app.engine.open_orders()
        assert str(order.size) == "0.01"
        assert not any("refused" in message for message in messages(app))

        await pilot.press("escape", "ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the emergency stop's confirmation")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "the dialog closing")
        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "positions", "the Positions screen")
