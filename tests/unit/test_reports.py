"""Performance reports from stored fills through the one ledger: figures worked out by hand for
a small history (two strategies and a manual trade), each period's start, contract sizes, fees
in the base currency, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.models import Fill, FundingPayment, Side
from core.reports import MANUAL, ReportError, build_report, notes, period_start

D = Decimal


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


NOW = ms("2026-12-03T12:00")  # a Thursday
HOUR = 3_600_000


def fill(n: int, when: str, side: Side, size: str, price: str, fee: str, strategy: str | None,
         symbol: str = "BTC/USDT", fee_currency: str = "USDT") -> Fill:
    return Fill(fill_id=f"f{n}", client_order_id=f"o{n}", venue="paper", symbol=symbol, side=side, size=D(size),
                price=D(price), fee=D(fee), fee_currency=fee_currency, ts=ms(when), strategy_id=strategy)


HISTORY = [
    fill(1, "2026-11-29T00:00", Side.BUY, "1", "100", "0.1", "sma"),
    fill(2, "2026-12-02T00:00", Side.SELL, "1", "110", "0.11", "sma"),
    fill(3, "2026-12-02T01:00", Side.BUY, "2", "100", "0.2", "grid"),
    fill(4, "2026-12-03T06:00", Side.SELL, "2", "95", "0.19", "grid"),
    fill(5, "2026-12-03T08:00", Side.BUY, "1", "50", "0.05", None, symbol="ETH/USDT"),
]
MARKS = {("paper", "ETH/USDT"): D("60")}


def mark(venue: str, symbol: str) -> Decimal | None:
    return MARKS.get((venue, symbol))


def test_period_starts_in_utc() -> None:
    assert period_start("day", NOW, None) == ms("2026-12-03T00:00")
    assert period_start("week", NOW, None) == ms("2026-11-30T00:00"), "weeks start on Monday"
    assert period_start("month", NOW, None) == ms("2026-12-01T00:00")
    assert period_start("all", NOW, ms("2026-11-29T00:00")) == ms("2026-11-29T00:00")
    assert period_start("all", NOW, None) == NOW


def test_all_history_per_strategy_and_in_total() -> None:
    report = build_report(HISTORY, "all", NOW, mark=mark, strategies=["grid", "sma", "idle"])
    rows = {row.name: row for row in report.strategies}
    assert list(rows) == ["grid", "sma", "idle", MANUAL]

    sma = rows["sma"]
    assert (sma.fills, sma.trades, sma.realized, sma.fees, sma.net) == (2, 1, D("10"), D("0.21"), D("9.79"))
    assert sma.capital == D("100") and sma.total_return == pytest.approx(0.0979)
    assert (sma.win_rate, sma.profit_factor) == (1.0, None), "no losing trade: no profit factor"
    assert sma.exposure == pytest.approx(72 / 108)  # held 29 Nov to 2 Dec of 4.5 days
    assert sma.max_drawdown == pytest.approx(-0.001)  # the buy's fee before the sale
    assert sma.sharpe is not None and sma.sharpe > 0
    assert sma.funding == 0, "no payment on record: none received or paid"

    grid = rows["grid"]
    assert (grid.net, grid.capital, grid.win_rate, grid.profit_factor) == (D("-10.39"), D("200"), 0.0, 0.0)
    assert grid.total_return == pytest.approx(-10.39 / 200)
    assert grid.exposure == pytest.approx(29 / 108)

    idle = rows["idle"]
    assert (idle.fills, idle.trades, idle.total_return, idle.sharpe, idle.exposure) == (0, 0, None, None, 0.0)

    manual = rows[MANUAL]
    assert (manual.open_positions, manual.unrealized, manual.trades) == (1, D("10"), 0)

    total = report.total
    assert total is not None
    assert (total.fills, total.trades, total.net, total.unrealized) == (5, 2, D("-0.65"), D("10"))
    assert total.capital == D("200"), "the largest cost of what was open at once"
    assert total.win_rate == 0.5 and total.profit_factor == pytest.approx(9.79 / 10.39)
    assert total.exposure == pytest.approx((72 + 29 + 4) / 108)
    assert total.volume == D("100") + D("110") + D("200") + D("190") + D("50")


def test_a_period_inherits_the_positions_open_at_its_start() -> None:
    day = build_report(HISTORY, "day", NOW, mark=mark)
    rows = {row.name: row for row in day.strategies}
    grid = rows["grid"]
    assert (grid.fills, grid.realized, grid.fees) == (1, D("-10"), D("0.19")), "the sale today, at yesterday's entry"
    assert grid.capital == D("200") and grid.exposure == pytest.approx(0.5)
    assert grid.trades == 1 and grid.profit_factor == 0.0
    assert grid.sharpe is None, "one day is no series"
    sma = rows["sma"]
    assert (sma.fills, sma.trades, sma.total_return, sma.exposure) == (0, 0, None, 0.0)

    month = {row.name: row for row in build_report(HISTORY, "month", NOW, mark=mark).strategies}["sma"]
    assert (month.fills, month.realized, month.capital) == (1, D("10"), D("100")), "bought in November"
    assert month.exposure == pytest.approx(24 / 60)
    week = {row.name: row for row in build_report(HISTORY, "week", NOW, mark=mark).strategies}["sma"]
    assert week.fills == 1 and week.exposure == pytest.approx(48 / 84)


def test_contract_size_and_a_fee_in_the_base_currency() -> None:
    perp = "BTC/USDT:USDT"
    fills = [fill(1, "2026-12-03T01:00", Side.BUY, "100", "100", "0", "p", symbol=perp),
             fill(2, "2026-12-03T02:00", Side.SELL, "100", "110", "0", "p", symbol=perp),
             fill(3, "2026-12-03T03:00", Side.BUY, "1", "100", "0.001", "s", fee_currency="BTC")]
    sizes = {perp: D("0.01"), "BTC/USDT": D("1")}
    report = build_report(fills, "day", NOW, mark=lambda v, s: D("100"), contract_size=lambda v, s: sizes[s])
    p, s = report.strategies
    assert (p.realized, p.capital, p.volume) == (D("10.00"), D("100.00"), D("210.00")), "100 contracts of 0.01 BTC"
    assert s.fees == D("0.100"), "0.001 BTC at 100"


def test_one_strategy_only_and_the_refusals() -> None:
    report = build_report(HISTORY, "all", NOW, mark=mark, strategy="sma")
    assert [row.name for row in report.strategies] == ["sma"] and report.total is None
    with pytest.raises(ReportError, match=r"unknown strategy 'smaa': strategies configured or with fills: sma, grid, manual"):
        build_report(HISTORY, "all", NOW, mark=mark, strategy="smaa")
    with pytest.raises(ReportError, match=r"unknown period 'year': use day, week, month, all"):
        build_report(HISTORY, "year", NOW, mark=mark)


def test_the_json_form_names_every_figure() -> None:
    row = build_report(HISTORY, "all", NOW, mark=mark).to_dict()
    assert list(row) == ["period", "since_ms", "until_ms", "strategies", "total", "unattributed_funding"]
    total = row["total"]
    assert isinstance(total, dict)
    assert list(total) == ["name", "fills", "volume", "trades", "realized", "fees", "funding", "net", "unrealized",
                           "open_positions", "unmarked", "capital", "return", "win_rate", "profit_factor", "sharpe",
                           "max_drawdown", "exposure"]
    assert (total["net"], total["funding"], total["fees"]) == ("-0.65", "0", "0.65")


PERP = "BTC/USDT:USDT"
FUNDED = [
    fill(11, "2026-12-01T00:00", Side.BUY, "3", "100", "0", "carry", symbol=PERP),
    fill(12, "2026-12-01T00:00", Side.SELL, "1", "100", "0", "hedge", symbol=PERP),
    fill(13, "2026-12-02T00:00", Side.SELL, "3", "102", "0", "carry", symbol=PERP),
]
PAID = [  # the account was long 2: it paid 2 (1 a contract); nothing explains the ETH position
    FundingPayment(venue="paper", symbol=PERP, ts=ms("2026-12-01T08:00"), amount=D("-2"), currency="USDT"),
    FundingPayment(venue="paper", symbol="ETH/USDT:USDT", ts=ms("2026-12-01T16:00"), amount=D("0.5"), currency="USDT"),
]


def test_funding_is_shared_by_each_strategys_share_of_the_position_and_is_in_the_net() -> None:
    report = build_report(FUNDED, "all", NOW, mark=lambda v, s: D("100"), funding=PAID)
    carry, hedge = report.strategies
    # carry held +3 of the account's +2: it pays 3 (1 a contract); hedge's short 1 receives 1
    assert (carry.funding, hedge.funding) == (D("-3"), D("1"))
    assert (carry.realized, carry.net) == (D("6"), D("3")), "the funding its long paid is in its net"
    assert carry.total_return == pytest.approx(3 / 300)
    # the account's book nets hedge's short against carry's long: it realized 4 and is short 1 at 102
    assert report.total is not None and report.total.funding == D("-1.5") and report.total.net == D("2.5")
    assert report.unattributed_funding == D("0.5")
    assert "Funding +0.50 on positions no recorded fill explains: in the total only." in notes(report)
    assert report.to_dict()["unattributed_funding"] == "0.5"
    [alone] = build_report(FUNDED, "all", NOW, mark=lambda v, s: D("100"), funding=PAID, strategy="hedge").strategies
    assert alone.funding == D("1"), "its share is of the account's position, whatever the rows shown"
    day = build_report(FUNDED, "day", NOW, mark=lambda v, s: D("100"), funding=PAID)
    assert day.total is not None and day.total.funding == 0, "paid before the period"
