"""The Reports screen (key 8): the figures of every strategy, the manual orders and the total
from the stored fills and funding payments, a period chosen by key, and new fills and payments
shown as they happen."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from core.clock import SimClock
from core.models import OrderRequest, OrderType, PositionSide, Side
from core.reports import Performance
from tests.tui.conftest import SESSIONS, advance, settle, wait_ready
from tui.app import OpenTradeApp
from tui.screens.reports import ReportsScreen

SYMBOL = "BTC/USDT"
PERP = "BTC/USDT:USDT"
EIGHT_HOURS = 8 * 3_600_000
POLLS = 400


async def report_where(pilot: Pilot[Any], done: Callable[[Performance], bool], what: str) -> ReportsScreen:
    """Wait (bounded) until the screen shows a report whose total is ``done``."""
    app = pilot.app
    for _ in range(POLLS):
        screen = app.screen
        if isinstance(screen, ReportsScreen) and screen.report is not None and screen.report.total is not None \
                and done(screen.report.total):
            await settle(pilot)
            return screen
        await pilot.pause(0.01)
    raise AssertionError(f"no report with {what} on {app.screen}")


async def report_shown(pilot: Pilot[Any], fills: int) -> ReportsScreen:
    return await report_where(pilot, lambda total: total.fills == fills, f"{fills} fills")


def cell(screen: ReportsScreen, figure: str, column: int) -> str:
    return str(screen.query_one("#report", DataTable).get_row(figure)[column])


async def market(app: OpenTradeApp, side: Side, coid: str) -> None:
    await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=side, type=OrderType.MARKET,
                                              size=Decimal("0.01"), client_order_id=coid))


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_reports_per_strategy_and_total_with_the_period_keys(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 5)
        await market(app, Side.BUY, "ot-report-buy")
        await advance(pilot, clock, 60)
        await market(app, Side.SELL, "ot-report-sell")
        await advance(pilot, clock, 1)

        await pilot.press("8")
        screen = await report_shown(pilot, 2)
        assert app.current_mode == "reports"
        table = screen.query_one("#report", DataTable)
        headers = [str(column.label) for column in table.columns.values()]
        assert headers == ["", "ai_trend_following", "manual", "total"]
        fills = await app.engine.db.load_fills()
        fees = sum((fill.fee for fill in fills), Decimal(0))
        realized = (fills[1].price - fills[0].price) * Decimal("0.01")
        assert cell(screen, "Fills", 2) == "2" and cell(screen, "Trades", 2) == "1" and cell(screen, "Trades", 1) == "0"
        assert cell(screen, "Fees", 3) == f"{fees:,.2f}"
        assert cell(screen, "Net P&L", 3) == f"{realized - fees:+,.2f}"
        assert cell(screen, "Win rate", 3) == ("100.00%" if realized > fees else "0.00%")
        assert cell(screen, "Funding", 3) == "+0.00", "no perpetual held: none paid"
        assert screen.report is not None and screen.report.period == "all", "all the history by default"

        await pilot.press("d")
        screen = await report_shown(pilot, 2)
        assert screen.report is not None and screen.report.period == "day"
        assert str(screen.query_one("#report-period", Static).render()).endswith("2024-01-01 00:00 to 2024-01-01 00:01 UTC")
        for key, period in (("w", "week"), ("m", "month"), ("a", "all")):
            await pilot.press(key)
            await settle(pilot)
            screen = await report_shown(pilot, 2)
            assert screen.report is not None and screen.report.period == period

        await market(app, Side.BUY, "ot-report-again")  # a fill while the screen is on display
        await advance(pilot, clock, 1)
        screen = await report_shown(pilot, 3)
        assert cell(screen, "Fills", 3) == "3"
        assert screen.report is not None and screen.report.total is not None
        assert screen.report.total.open_positions == 1


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_funding_paid_on_a_perpetual_shows_as_it_is_recorded(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 5)
        await app.engine.place_order(OrderRequest(venue="paper", symbol=PERP, side=Side.BUY, type=OrderType.MARKET,
                                                  size=Decimal("0.01"), client_order_id="ot-report-perp"))
        await advance(pilot, clock, 1)
        await pilot.press("8")
        screen = await report_shown(pilot, 1)
        assert cell(screen, "Funding", 3) == "+0.00"

        clock.advance(EIGHT_HOURS - clock.now_ms() % EIGHT_HOURS)  # the venue settles at its next step
        await advance(pilot, clock, 1)
        # shown without a key: the payment's event reloads it
        screen = await report_where(pilot, lambda total: bool(total.funding), "funding")
        [payment] = await app.engine.db.load_funding()
        assert (payment.symbol, payment.side, payment.size) == (PERP, PositionSide.LONG, Decimal("0.01"))
        shown = f"{payment.amount:+,.2f}"
        assert cell(screen, "Funding", 2) == cell(screen, "Funding", 3) == shown, "the manual order's position paid it"
        total = screen.report.total if screen.report is not None else None
        assert total is not None and total.funding == payment.amount
        assert total.net == total.realized - total.fees + payment.amount
