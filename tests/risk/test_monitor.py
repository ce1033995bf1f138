"""Position monitoring: leverage, liquidation proximity, stop-loss / take-profit, limit gauges."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.events import EventBus, OrderUpdated, RiskAlert, Subscription
from core.models import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
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


@pytest.mark.parametrize(
    ("side", "mark", "expected"),
    [
        (Side.BUY, "29400", "stop_loss"),
        (Side.BUY, "29401", None),
        (Side.BUY, "31800", "take_profit"),
        (Side.BUY, "31799", None),
        (Side.SELL, "30600", "stop_loss"),
        (Side.SELL, "28200", "take_profit"),
        (Side.SELL, "28201", None),
    ],
)
def test_default_stop_loss_and_take_profit_levels(
    make_risk: MakeRisk, portfolio: Portfolio, side: Side, mark: str, expected: str | None
) -> None:
    risk = make_risk()  # stop 2%, take profit 6%
    open_position(portfolio, PERP, side, "0.1", "30000")
    portfolio.update_mark("paper", PERP, D(mark))
    assert [trigger for _, trigger in risk.stop_triggers()] == ([expected] if expected else [])


def test_spot_positions_have_stops_too(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk()
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.1", "30000")
    portfolio.update_mark("paper", "BTC/USDT", D(29000))
    [(position, trigger)] = risk.stop_triggers()
    assert position.symbol == "BTC/USDT" and trigger == "stop_loss"


def test_own_levels_replace_the_percentages_for_that_position_only(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk()
    open_position(portfolio, PERP, Side.BUY, "0.1", "30000")
    risk.set_protection("paper", PERP, stop_loss=D(25000))
    risk.set_protection("paper", PERP, take_profit=D(30500))
    portfolio.update_mark("paper", PERP, D(29000))
    assert risk.stop_triggers() == []
    portfolio.update_mark("paper", PERP, D(30500))
    assert [t for _, t in risk.stop_triggers()] == ["take_profit"]

    open_position(portfolio, PERP, Side.SELL, "0.1", "30000")
    assert portfolio.position("paper", PERP) is None
    portfolio.apply_fill(
        Fill(fill_id="again", client_order_id="ot-2", venue="paper", symbol=PERP, side=Side.BUY,
             size=D("0.1"), price=D(30000), ts=1)
    )
    portfolio.update_mark("paper", PERP, D(29000))
    assert [t for _, t in risk.stop_triggers()] == ["stop_loss"]


def test_protecting_a_missing_position_is_refused(make_risk: MakeRisk) -> None:
    with pytest.raises(ValueError, match="no open BTC/USDT:USDT position on paper"):
        make_risk().set_protection("paper", PERP, stop_loss=D(1))


def test_a_filled_order_with_a_stop_loss_protects_its_position(
    make_risk: MakeRisk, portfolio: Portfolio, bus: EventBus
) -> None:
    risk = make_risk()
    open_position(portfolio, PERP, Side.BUY, "0.1", "30000")
    request = OrderRequest(venue="paper", symbol=PERP, side=Side.BUY, type=OrderType.MARKET, size=D("0.1"),
                           stop_loss=D(28000), take_profit=D(40000))
    order = Order.from_request(request, ts=0).model_copy(
        update={"status": OrderStatus.FILLED, "filled_size": D("0.1")}
    )
    bus.publish(OrderUpdated(order, "pending_new"))
    position = portfolio.position("paper", PERP)
    assert position is not None
    levels = risk.protection_levels(position)
    assert (levels.stop_loss, levels.take_profit) == (D(28000), D(40000))

    closing = order.model_copy(update={"side": Side.SELL, "stop_loss": D(1)})
    bus.publish(OrderUpdated(closing, "pending_new"))
    assert risk.protection_levels(position).stop_loss == D(28000)


def test_monitor_announces_a_stop_hit_once(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk()
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.1", "30000")
    portfolio.update_mark("paper", "BTC/USDT", D(29000))
    alerts = risk.monitor_positions()
    assert [(a.rule, a.message) for a in alerts] == [
        ("stop_loss", "BTC/USDT long reached its stop loss at 29,400.00 (mark 29,000.00); the position should be closed")
    ]
    assert risk.monitor_positions() == []
    assert len(risk.stop_triggers()) == 1


def test_limits_usage_for_the_gauges(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(trading_max_daily_loss=D(2000), trading_stop_loss_pct=0.5)
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
