"""Snapshots of every screen at 120x40 and of the Trade screen at 80x24, from a seeded
simulator on a simulated clock, with an open order and a position so the tables have rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.pilot import Pilot

from core.clock import SimClock
from core.models import OrderRequest, OrderType, Side
from tui.app import OpenTradeApp
from tests.tui.conftest import advance, settle, wait_ready

SYMBOL = "BTC/USDT"


def prepare(clock: SimClock, screen_key: str | None = None) -> Any:
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
        if screen_key is not None:
            await pilot.press(screen_key)
        await settle(pilot)
        app.clear_notifications()
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("key", [None, "2", "3", "4", "5", "6"], ids=["trade", "positions", "strategies", "risk", "agents", "log"])
def test_screen_120x40(snap_compare: Any, make_app: Any, clock: SimClock, key: str | None) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=prepare(clock, key))


def test_trade_screen_80x24(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=prepare(clock))


def test_help_screen(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=prepare(clock, "question_mark"))


def test_light_theme_trade_screen(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(theme="opentrade-light"), terminal_size=(120, 40), run_before=prepare(clock))
