"""An OpenTradeApp over a deterministic engine: the seeded paper simulator on a SimClock, so
the market moves only when a test advances the clock. It starts like `opentrade trade`: the
strategies and agents are attached after the first screen.

A test parametrized with ``@pytest.mark.parametrize("session_kind", SESSIONS)`` runs twice: with
the engine in the app's process, and with the app attached to a real gateway over that engine
(``tests.tui.gateway_session``), the same keys and the same checks."""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.keys import _character_to_key, key_to_character
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from agents.scheduler import AnalysisScheduler
from core.clock import SimClock
from core.config import AppConfig
from runtime.session import LocalSession
from runtime.wiring import attach_services, build_engine
from tests.tui.gateway_session import GatewaySession
from tui.app import OpenTradeApp

SEED = 7
READY_POLLS = 400
# Textual names a few keys ("slash", "minus") without telling their character back.
_CHARACTERS = {_character_to_key(c): c for c in string.printable if c.isprintable()}


def character_of(key: str) -> str | None:
    """The character a terminal sends with ``key``: "/" for "slash", None for "ctrl+u"."""
    return _CHARACTERS.get(key) or key_to_character(key)


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    return tmp_path / "app-home"


SESSIONS = ("local", "remote")


@pytest.fixture
def session_kind() -> str:
    return "local"


@pytest.fixture
async def make_app(app_home: Path, clock: SimClock, session_kind: str) -> AsyncIterator[Callable[..., OpenTradeApp]]:
    """Apps over the engine in their own process, or attached to a gateway (``session_kind``);
    the gateways outlive their apps, as they do outside the tests, and stop with the test."""
    served: list[GatewaySession] = []

    def make(config: AppConfig | None = None, **kwargs: Any) -> OpenTradeApp:
        chosen = config or AppConfig()
        if session_kind == "remote":
            async def engine() -> Any:
                return await build_engine(chosen, app_home, seed=SEED, clock=clock)

            kwargs.pop("attach_services", None)
            served.append(GatewaySession(engine, app_home, clock))
            return OpenTradeApp(served[-1], **kwargs)

        async def factory() -> Any:
            return await build_engine(chosen, app_home, seed=SEED, clock=clock, services=False)

        attach = kwargs.pop("attach_services", attach_services)
        return OpenTradeApp(LocalSession(factory, attach), **kwargs)

    yield make
    for session in served:
        await session.stop_serving()


async def wait_ready(pilot: Pilot[Any]) -> None:
    """Wait (bounded) for the engine to start, the first screen to mount and the strategies and
    agents to run, the agents' first decisions made."""
    app = pilot.app
    assert isinstance(app, OpenTradeApp)
    for _ in range(READY_POLLS):
        if app.services_ready and app.current_mode in ("trade", "positions", "strategies", "risk", "agents", "log"):
            break
        await pilot.pause(0.01)
    assert app.services_ready, "the app did not start"
    await until(pilot, lambda: first_analysis_done(app), "the agents' first analysis")
    for widget in app.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def first_analysis_done(app: OpenTradeApp) -> bool:
    """The analysis team's first cycle, which its start sets going without waiting for it, is
    over: a test that moves the clock from here finds the decisions stamped with the start's
    time, made on the start's market, as they are on a quiet machine."""
    services = app.engine.services
    return all(service.cycles for service in services if isinstance(service, AnalysisScheduler))


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str = "the awaited change", polls: int = 400) -> None:
    """Wait (bounded) for what the engine's tasks, the gateway or a loaded machine bring about
    after a key or a call has returned."""
    for _ in range(polls):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"{what} did not happen")


async def settle(pilot: Pilot[Any], rounds: int = 2) -> None:
    """Let the engine's tasks and the app's workers run, then draw one frame."""
    app = pilot.app
    assert isinstance(app, OpenTradeApp)
    for _ in range(rounds):
        for _ in range(10):
            await asyncio.sleep(0)
        await pilot.pause()
    caught_up = getattr(app.session, "caught_up", None)
    if caught_up is not None:
        await caught_up()
    app.render_frame()
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


async def advance(pilot: Pilot[Any], clock: SimClock, seconds: float, step_ms: int = 100) -> None:
    """Move simulated time forward one simulator tick at a time."""
    for _ in range(int(seconds * 1000 / step_ms)):
        clock.advance(step_ms)
        for _ in range(4):
            await asyncio.sleep(0)
    await settle(pilot)


async def burst(pilot: Pilot[Any], *keys: str) -> None:
    """Keys that arrive all at once, as a paste, tmux send-keys or keys typed while the app was
    busy or starting do: every one is read before the first is handled. Waits (bounded) until
    the app has handled them all."""
    app = pilot.app
    assert isinstance(app, OpenTradeApp)
    for key in keys:
        event = events.Key(key, character_of(key))
        event.set_sender(app)
        app.post_message(event)
    for _ in range(READY_POLLS):
        await pilot.pause(0.01)
        if app.keys_idle:
            break
    assert app.keys_idle, "the keys were not all handled"
    await settle(pilot)


def count_layouts(screen: Screen[Any], monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each time ``screen`` lays its widgets out from now on (every widget placed anew: ~10 ms
    of the loop on the Trade screen), appended to the list returned."""
    layouts: list[object] = []
    refresh_layout = screen._refresh_layout  # noqa: SLF001

    def counted(*args: Any, **kwargs: Any) -> None:
        layouts.append(args)
        refresh_layout(*args, **kwargs)

    monkeypatch.setattr(screen, "_refresh_layout", counted)
    return layouts
