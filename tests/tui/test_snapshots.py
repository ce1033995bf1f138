"""Snapshots of every screen at 120x40 and at 80x24, and of the dialogs at 80x24, from a seeded
simulator on a simulated clock, with an open order and a position so the tables have rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.pilot import Pilot

from core.clock import SimClock
from core.models import OrderRequest, OrderType, Side
from tests.tui.conftest import advance, settle, wait_ready
from tests.tui.test_reports_screen import report_shown
from tui.app import OpenTradeApp

SYMBOL = "BTC/USDT"


def prepare(clock: SimClock, *keys: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, OpenTradeApp)
        await wait_ready(pilot)
        await advance(pilot, clock, 10)
        engine = app.engine
        book = engine.market.book("paper", SYMBOL)
        assert book is not None and book.best_bid is not None
        instrument = engine.instrument("paper", SYMBOL)
        await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                                              size=Decimal("0.01"), price=instrument.round_price(book.best_bid * Decimal("0.99")),
                                              client_order_id="ot-snapshot-limit"))
        await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                                              size=Decimal("0.005"), client_order_id="ot-snapshot-market"))
        await advance(pilot, clock, 2)
        app.clear_notifications()  # before any dialog opens: a toast stays under it otherwise
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await settle(pilot)
        app.clear_notifications()
        await settle(pilot)

    return run_before


SCREENS = {"trade": (), "positions": ("2",), "strategies": ("3",), "risk": ("4",), "agents": ("5",), "log": ("6",)}
DIALOGS = {"market-picker": ("m",), "cancel-all": ("2", "C"), "modify-order": ("2", "o", "e"),
           "strategy-parameters": ("3", "e"), "help": ("question_mark",)}


@pytest.mark.parametrize("keys", SCREENS.values(), ids=SCREENS.keys())
def test_screen_120x40(snap_compare: Any, make_app: Any, clock: SimClock, keys: tuple[str, ...]) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=prepare(clock, *keys))


@pytest.mark.parametrize("keys", [*SCREENS.values(), ("7",)], ids=[*SCREENS.keys(), "backtest"])
def test_screen_80x24(snap_compare: Any, make_app: Any, clock: SimClock, keys: tuple[str, ...]) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=prepare(clock, *keys))


@pytest.mark.parametrize("keys", DIALOGS.values(), ids=DIALOGS.keys())
def test_dialog_80x24(snap_compare: Any, make_app: Any, clock: SimClock, keys: tuple[str, ...]) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=prepare(clock, *keys))


def reports_prepared(clock: SimClock) -> Any:
    """The Reports screen once it shows the report of the two fills (read from the database by
    a worker)."""
    prepared = prepare(clock, "8")

    async def run_before(pilot: Pilot[Any]) -> None:
        await prepared(pilot)
        await report_shown(pilot, 1)

    return run_before


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_reports_screen(snap_compare: Any, make_app: Any, clock: SimClock, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=reports_prepared(clock))


def test_help_screen(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=prepare(clock, "question_mark"))


def test_light_theme_trade_screen(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(theme="opentrade-light"), terminal_size=(120, 40), run_before=prepare(clock))
