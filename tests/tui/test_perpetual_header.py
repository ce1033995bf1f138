"""The Trade screen's header for a perpetual: funding (coloured by who pays), the countdown to
the next payment on the engine's clock, open interest and the long/short ratio, as the data
service last published them; nothing of it for a spot market."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from core.clock import SimClock
from core.events import MarketStatsUpdated
from core.models import MarketStats
from tests.tui.conftest import SESSIONS, advance, settle, wait_ready
from tui.app import OpenTradeApp

PERP = "BTC/USDT:USDT"
HOUR = 3_600_000


def show_perpetual(clock: SimClock, published: bool = True) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, OpenTradeApp)
        await wait_ready(pilot)
        await app.select_market("paper", PERP)
        if published:
            now = clock.now_ms()
            app.engine.bus.publish(MarketStatsUpdated(MarketStats(
                venue="paper", symbol=PERP, ts=now, spread_bps=0.4, bid_depth=3.0, ask_depth=2.0,
                funding_rate=0.000125, next_funding_ts=now + 2 * HOUR + 13 * 60_000 + 15_000,
                open_interest=81234.567, long_short_ratio=1.842)))
        await advance(pilot, clock, 10)
        app.clear_notifications()
        await settle(pilot)

    return run_before


def test_perpetual_header_120x40(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=show_perpetual(clock))


def test_perpetual_header_80x24(snap_compare: Any, make_app: Any, clock: SimClock) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=show_perpetual(clock))


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_the_countdown_follows_the_clock_and_a_spot_market_shows_no_funding(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await show_perpetual(clock)(pilot)
        line = app.screen.query_one("#perpetual-line", Static)
        assert "next in 2:13:05" in str(line.render()) and "open interest 81,234.57 BTC" in str(line.render())
        await advance(pilot, clock, 60, step_ms=1000)
        assert "next in 2:12:05" in str(line.render())
        await app.select_market("paper", "BTC/USDT")
        await settle(pilot)
        assert not line.display


async def test_a_perpetual_without_a_reading_says_so(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await show_perpetual(clock, published=False)(pilot)
        text = str(app.screen.query_one("#perpetual-line", Static).render())
        assert text.startswith("funding -  open interest -") and "no reading yet" in text
