"""Position monitoring: leverage, liquidation proximity, limit gauges; no hidden stops."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.events import RiskAlert, Subscription
from core.models import Order, OrderRequest, Side
from core.portfolio import Portfolio
from core.risk import LimitUsage

from .conftest import MakeRisk, open_position

PERP = "BTC/USDT:USDT"


def test_account_leverage_alert_is_raised_once_and_again_after_clearing(
    make_risk: MakeRisk, portfolio: Portfolio, events: Subscription
) -> None:
    risk = make_risk(trading_stop_loss_pct=0.5)
    open_position(portfolio, PERP, Side.BUY, "11", "30000")
    alerts = risk.monitor_positions()
    assert [(a.level, a.rule, a.message) for a in alerts] == [
        ("warning", "max_leverage",
         "account leverage is 3.30x (330,000.00 USDT of exposure on 100,000.00 USDT of equity); the limit is 3x")
    ]
    assert [e for e in events.drain() if isinstance(e, RiskAlert)] == alerts
    assert risk.monitor_positions() == []
    open_position(portfolio, PERP, Side.SELL, "2", "30000")
    assert risk.monitor_positions() == []
    open_position(portfolio, PERP, Side.BUY, "2", "30000")
    assert [a.rule for a in risk.monitor_positions()] == ["max_leverage"]


def test_liquidation_proximity_alert(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(trading_stop_loss_pct=0.5, liquidation_warning_pct=0.05)
    portfolio.set_leverage("paper", PERP, 10)
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    portfolio.update_mark("paper", PERP, D(28600))  # liquidation at 27,000 / 0.995 = 27,135.68
    assert risk.monitor_positions() == []
    portfolio.update_mark("paper", PERP, D(28000))
    alerts = risk.monitor_positions()
    assert [(a.level, a.rule, a.symbol, a.message) for a in alerts] == [
        ("critical", "liquidation", PERP, "BTC/USDT:USDT long is 3.1% from its liquidation price 27,135.68 (mark 28,000.00)")
    ]


def test_the_monitor_neither_announces_nor_closes_stops_nobody_set(
    make_risk: MakeRisk, portfolio: Portfolio, events: Subscription
) -> None:
    """There is no hidden stop: a position 5% under water with the default configuration raises
    no stop-loss alert (levels live with the protector, set by the trader or auto_protect)."""
    risk = make_risk()
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.1", "30000")
    portfolio.update_mark("paper", "BTC/USDT", D(28500))
    assert risk.monitor_positions() == []


def test_limits_usage_for_the_gauges(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(max_daily_loss=D(2000), trading_stop_loss_pct=0.5)
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.2", "30000")
    open_position(portfolio, PERP, Side.SELL, "1", "30000")
    portfolio.update_mark("paper", PERP, D(30500))
    resting = Order.from_request(
        OrderRequest(venue="paper", symbol="ETH/USDT", side=Side.BUY, size=D(4), price=D(2500)), ts=0
    )
    usage = {u.name: u for u in risk.limits_usage([resting])}
    assert list(usage) == [
        "position BTC/USDT", "position BTC/USDT:USDT", "total exposure", "daily loss", "open positions", "leverage",
        "drawdown",
    ]
    assert usage["position BTC/USDT"] == LimitUsage("position BTC/USDT", D(6000), D("9950.0"), "USDT")
    assert usage["position BTC/USDT:USDT"].fraction == 1.0
    assert usage["total exposure"].used == D(6000) + D(30500) + D(10000)
    assert usage["daily loss"].used == D(500) and usage["daily loss"].fraction == 0.25
    assert usage["open positions"].fraction == pytest.approx(2 / 3)
    assert usage["leverage"].used == D(36500) / D(99500)
    assert (usage["drawdown"].used, usage["drawdown"].limit, usage["drawdown"].unit) == (D("0.5"), D(10), "%")


def test_limit_usage_fraction_is_bounded() -> None:
    assert LimitUsage("x", D(-1), D(10), "").fraction == 0.0
    assert LimitUsage("x", D(5), D(0), "").fraction == 1.0
