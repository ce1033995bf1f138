"""Live trading asks first: the venue name must be typed, and every live order is confirmed.
The paper venue stands in for a live one by reporting mode "live"."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from cli.commands.trade import apply_mode
from core.clock import SimClock
from core.config import AppConfig, CcxtVenueConfig, ConfigError
from core.ports import Capability
from runtime.session import LocalSession
from runtime.wiring import build_engine
from tests.tui.conftest import advance, burst, settle, until
from tests.tui.test_starting import starting_screen
from tests.tui.test_trading_flow import resting_buy_price, type_ticket
from tui.app import OpenTradeApp
from tui.screens.confirm import ConfirmScreen
from tui.widgets.status_bar import StatusBar


def live_app(home: Path, clock: SimClock, go_aheads: list[str] | None = None,
             gate: asyncio.Event | None = None) -> OpenTradeApp:
    """``gate``: the engine's start waits for it (the starting state lasts as long as a test needs)."""
    async def factory() -> Any:
        if gate is not None:
            async with asyncio.timeout(30):
                await gate.wait()
        engine = await build_engine(AppConfig(), home, seed=7, clock=clock)
        venue = engine.venues["paper"]
        venue.mode = "live"
        if go_aheads is not None:
            venue.supports = lambda capability: capability is Capability.LIVE_CONFIRMATION  # type: ignore[method-assign]
            venue.confirm_live = lambda: go_aheads.append("paper")  # type: ignore[method-assign]
        return engine

    return OpenTradeApp(LocalSession(factory))


async def wait_for_dialog(pilot: Any) -> ConfirmScreen:
    for _ in range(300):
        screen = pilot.app.screen
        if isinstance(screen, ConfirmScreen) and screen.query("#title"):
            await pilot.pause()
            return screen
        await pilot.pause(0.01)
    raise AssertionError("no confirmation dialog")


async def test_going_live_needs_the_venue_name_and_live_orders_are_confirmed(tmp_path: Path, clock: SimClock) -> None:
    go_aheads: list[str] = []
    app = live_app(tmp_path / "home", clock, go_aheads)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await wait_for_dialog(pilot)
        assert "LIVE" in str(dialog.query_one("#title", Static).render())
        await pilot.press(*"binance", "enter")
        await settle(pilot, rounds=1)
        assert "type exactly 'paper'" in str(dialog.query_one("#typed-error", Static).render())
        assert isinstance(app.screen, ConfirmScreen)
        dialog.query_one("#typed", Input).value = ""
        await pilot.press(*"paper", "enter")
        await until(pilot, lambda: app.is_ready, "the engine ready once live is confirmed")
        await advance(pilot, clock, 2)
        assert go_aheads == ["paper"], "the venue is told that the person typed the go-ahead"
        assert " LIVE " in app.screen.query_one(StatusBar).render().plain

        await type_ticket(pilot, "0.01", str(resting_buy_price(app)))
        await pilot.press("enter")
        dialog = await wait_for_dialog(pilot)
        assert "LIVE order" in str(dialog.query_one("#body", Static).render())
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert len(app.engine.open_orders()) == 1


async def test_keys_typed_while_starting_live_do_not_answer_the_go_live_dialog(tmp_path: Path, clock: SimClock) -> None:
    """Going live takes the venue's name typed after the warning is on screen. Typed while the
    engine started, the name went to the Trade screen in its starting state (which refuses what
    needs the engine), never into the dialog's field."""
    go_aheads: list[str] = []
    gate = asyncio.Event()
    app = live_app(tmp_path / "home", clock, go_aheads, gate)
    async with app.run_test(size=(120, 40)) as pilot:
        await starting_screen(pilot)
        await burst(pilot, *"paper", "enter")
        gate.set()
        dialog = await wait_for_dialog(pilot)
        assert dialog.query_one("#typed", Input).value == "" and go_aheads == []
        await pilot.press(*"paper", "enter")
        await until(pilot, lambda: app.is_ready, "the engine ready once live is confirmed")
        assert go_aheads == ["paper"]


async def test_declining_live_mode_exits(tmp_path: Path, clock: SimClock) -> None:
    app = live_app(tmp_path / "home", clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_dialog(pilot)
        await pilot.press("escape")
        for _ in range(100):
            if app.return_code is not None:
                break
            await pilot.pause(0.01)
    assert app.return_code == 1


def test_mode_option_checks_the_venue() -> None:
    config = AppConfig.model_validate({"venues": {"paper": {}, "binance": {"exchange": "binance"}}})
    with pytest.raises(ConfigError, match="simulated paper venue"):
        apply_mode(config, None, "live")
    with pytest.raises(ConfigError, match="not configured"):
        apply_mode(config, "kraken", None)
    live, venue = apply_mode(config, "binance", "live")
    assert venue == "binance"
    binance = live.venues["binance"]
    assert isinstance(binance, CcxtVenueConfig) and binance.mode == "live"
    assert apply_mode(config, "paper", "paper") == (config, "paper")


def test_live_without_credentials_names_the_variables_and_connects_to_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import main

    def connected(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the app started and connected without credentials")

    monkeypatch.setattr(OpenTradeApp, "run", connected)
    config = tmp_path / "config.yaml"
    config.write_text("venues:\n  paper: {}\n  my-binance:\n    exchange: binance\n")
    assert main(["--config", str(config), "trade", "--mode", "live", "--venue", "my-binance"]) == 2
    err = capsys.readouterr().err
    assert "venue 'my-binance' trades live but has no API key and secret" in err
    assert "OPENTRADE_MY_BINANCE_API_KEY" in err and "OPENTRADE_MY_BINANCE_SECRET" in err
    assert "Traceback" not in err


def test_going_live_stops_the_builtin_strategy_but_not_a_configured_one() -> None:
    config = AppConfig.model_validate({"venues": {"binance": {"exchange": "binance"}}})
    assert config.strategies["ai_trend_following"].enabled
    live, _ = apply_mode(config, "binance", "live")
    assert not live.strategies["ai_trend_following"].enabled
    configured = AppConfig.model_validate({"venues": {"binance": {"exchange": "binance"}},
                                           "strategies": {"ai_trend_following": {"enabled": True, "venue": "binance"}}})
    assert apply_mode(configured, "binance", "live")[0].strategies["ai_trend_following"].enabled
