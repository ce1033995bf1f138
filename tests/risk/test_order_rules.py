"""Each pre-trade rule: what it rejects, what it lets through, and the reason a trader reads."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from core.clock import SimClock
from core.config import RiskConfig, TradingConfig
from core.events import EventBus
from core.models import Order, OrderRequest, OrderStatus, OrderType, RiskState, Side
from core.portfolio import Portfolio
from core.risk import RiskCheckResult, RiskManager
from core.risk.gate import PreTradeGate

from .conftest import BTC, ETH, INSTRUMENTS, PERP, SOL, MakeRisk, open_position

MARK = D(30000)


def request(symbol: str = "BTC/USDT", side: Side = Side.BUY, size: str = "0.1", **fields: Any) -> OrderRequest:
    fields.setdefault("type", OrderType.LIMIT)
    if fields["type"] is OrderType.LIMIT:
        fields.setdefault("price", MARK)
    return OrderRequest(venue="paper", symbol=symbol, side=side, size=D(size), **fields)


def check(risk: RiskManager, req: OrderRequest, mark: D | None = MARK, open_orders: list[Order] | None = None) -> RiskCheckResult:
    return PreTradeGate(risk).limits(req, INSTRUMENTS[req.symbol], mark, open_orders or [])


def working(req: OrderRequest) -> Order:
    return Order.from_request(req, ts=0)


def test_a_plain_order_within_every_limit_passes(make_risk: MakeRisk) -> None:
    assert check(make_risk(), request()) == RiskCheckResult(approved=True)


def test_kill_switch_lets_nothing_through_not_even_reducing_orders(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.1", "30000")
    risk = make_risk()
    assert risk.state is RiskState.ACTIVE
    risk.set_state(RiskState.HALTED, "kill switch engaged by alice", by_person=True)
    assert risk.state is RiskState.HALTED and risk.halted_by_person
    for req in (request(), request(side=Side.SELL, size="0.1")):
        result = check(risk, req)
        assert not result.approved and result.rule == "halted"
        assert result.reason == (
            "trading is halted (kill switch engaged by alice); nothing passes until a person resets the risk state"
        )


def test_reducing_state_passes_only_orders_that_shrink_a_position(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT:USDT", Side.SELL, "1", "30000")
    risk = make_risk()
    risk.set_state(RiskState.REDUCING, "testing")
    assert check(risk, request("BTC/USDT:USDT", side=Side.BUY, size="0.5")).approved
    assert check(risk, request("BTC/USDT:USDT", side=Side.BUY, size="1")).approved
    assert check(risk, request("BTC/USDT:USDT", side=Side.BUY, size="3", reduce_only=True)).approved
    for req in (
        request("BTC/USDT:USDT", side=Side.SELL),
        request("BTC/USDT:USDT", side=Side.BUY, size="1.5"),
        request("ETH/USDT", side=Side.BUY),
    ):
        result = check(risk, req)
        assert not result.approved and result.rule == "reducing"
    assert check(risk, request("BTC/USDT:USDT", side=Side.BUY, size="1.5")).reason == (
        "only orders that reduce a position pass while risk is REDUCING (testing); "
        "this buy of 1.5 BTC would not reduce BTC/USDT:USDT"
    )


def test_closing_orders_cannot_stack_into_a_position_on_the_other_side(
    make_risk: MakeRisk, portfolio: Portfolio
) -> None:
    open_position(portfolio, "BTC/USDT:USDT", Side.BUY, "1", "30000")
    risk = make_risk()
    first = working(request("BTC/USDT:USDT", side=Side.SELL, size="0.6"))
    assert check(risk, request("BTC/USDT:USDT", side=Side.SELL, size="0.4"), open_orders=[first]).approved
    stacked = [first, working(request("BTC/USDT:USDT", side=Side.SELL, size="0.4"))]
    result = check(risk, request("BTC/USDT:USDT", side=Side.SELL, size="1"), open_orders=stacked)
    # Checked as new exposure, not waved through as a close: all three sells would leave 1 BTC
    # short, and the position cap counts the working sells.
    assert result.rule == "max_position_pct" and "with the working sell orders (1.0 BTC)" in (result.reason or "")
    risk.set_state(RiskState.REDUCING, "testing")
    assert check(risk, request("BTC/USDT:USDT", side=Side.SELL, size="0.1"), open_orders=stacked).rule == "reducing"


def test_spot_sells_only_turn_holdings_into_cash(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(max_position_pct=0.01)
    risk.set_state(RiskState.REDUCING, "testing")
    assert check(risk, request(side=Side.SELL, size="5")).approved
    risk.set_state(RiskState.ACTIVE, "testing")
    resting = working(request(side=Side.SELL, size="100"))
    assert check(risk, request(size="0.01"), open_orders=[resting]).approved


def test_market_order_without_a_mark_is_refused(make_risk: MakeRisk) -> None:
    result = check(make_risk(), request(type=OrderType.MARKET), mark=None)
    assert result == RiskCheckResult(False, "no market price yet for BTC/USDT; a market order cannot be checked without one", "no_mark")


def test_limit_order_without_a_mark_is_checked_at_its_price(make_risk: MakeRisk) -> None:
    risk = make_risk(max_position_pct=0.05)
    assert check(risk, request(size="0.1"), mark=None).approved
    assert check(risk, request(size="0.2"), mark=None).rule == "max_position_pct"


def test_portfolio_mark_is_used_when_none_is_given(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    portfolio.update_mark("paper", "BTC/USDT", MARK)
    assert check(make_risk(), request(type=OrderType.MARKET), mark=None).approved


@pytest.mark.parametrize(
    ("fields", "label", "shown"),
    [
        ({"price": D(33000)}, "limit price 33,000.00", "10%"),
        ({"price": D(28000)}, "limit price 28,000.00", "6.7%"),
        ({"type": OrderType.STOP_MARKET, "trigger_price": D(25000)}, "trigger price 25,000.00", "16.7%"),
    ],
)
def test_fat_finger_band(make_risk: MakeRisk, fields: dict[str, Any], label: str, shown: str) -> None:
    result = check(make_risk(), request(**fields))
    assert not result.approved and result.rule == "fat_finger"
    assert result.reason == f"{label} is {shown} from the mark 30,000.00 of BTC/USDT; the fat-finger band is 5%"


def test_prices_inside_the_fat_finger_band_pass(make_risk: MakeRisk) -> None:
    risk = make_risk()
    assert check(risk, request(price=D(31500))).approved
    assert check(risk, request(type=OrderType.STOP_MARKET, trigger_price=D(28500))).approved


def test_max_position_size_is_a_notional_cap(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.1", "30000")
    risk = make_risk(max_position_size=D(5000))
    result = check(risk, request(size="0.1"))
    assert result.rule == "max_position_size"
    assert result.reason == (
        "this order would take the BTC/USDT position to 6,000.00 USDT; the largest position allowed is 5,000.00 USDT"
    )
    assert check(risk, request(size="0.05")).approved


def test_max_position_pct_of_equity(make_risk: MakeRisk) -> None:
    risk = make_risk()
    result = check(risk, request(size="0.4"))
    assert result.rule == "max_position_pct"
    assert result.reason == (
        "this order would take the BTC/USDT position to 12,000.00 USDT, 12% of equity; the limit is 10%"
    )
    assert check(risk, request(size="0.33")).approved


def test_symbol_exposure_counts_the_position_and_working_orders(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.3", "30000")
    risk = make_risk(max_position_pct=0.5)
    resting = working(request(size="0.1"))
    result = check(risk, request(size="0.15"), open_orders=[resting])
    assert result.rule == "max_symbol_exposure_pct"
    assert result.reason == (
        "order notional 4,500.00 USDT would take BTC/USDT to 16.5% of equity with its position and working orders; "
        "the limit is 15%"
    )
    assert check(risk, request(size="0.15")).approved


def test_orders_on_the_other_side_do_not_add_up_with_buys(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(max_position_pct=0.5)
    sells = [working(request(side=Side.SELL, size="0.4"))]
    assert check(risk, request(size="0.4"), open_orders=sells).approved
    assert check(risk, request(size="0.11"), open_orders=[working(request(size="0.4"))]).rule == "max_symbol_exposure_pct"


def test_total_exposure_includes_other_markets_and_their_working_orders(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.3", "30000")
    risk = make_risk(max_position_pct=0.5, max_symbol_exposure_pct=0.5)
    eth_order = working(request("ETH/USDT", size="10", price=D(2500)))
    result = check(risk, request(size="0.3"), open_orders=[eth_order])
    assert result.rule == "max_total_exposure_pct"
    assert result.reason == (
        "this order would take total exposure, positions and working orders included, to 43,000.00 USDT, "
        "43% of equity; the limit is 40%"
    )
    canceled = eth_order.model_copy(update={"status": OrderStatus.CANCELED})
    assert check(risk, request(size="0.3"), open_orders=[canceled]).approved


def test_reduce_only_working_orders_do_not_count_as_exposure(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT:USDT", Side.BUY, "1", "30000")
    risk = make_risk(max_position_pct=0.5, max_symbol_exposure_pct=0.5)
    closing = working(request("BTC/USDT:USDT", side=Side.SELL, size="1", reduce_only=True))
    assert check(risk, request(size="0.3"), open_orders=[closing]).approved


def test_max_order_loss_at_the_requested_stop(make_risk: MakeRisk) -> None:
    risk = make_risk()
    result = check(risk, request(size="0.3", stop_loss=D(28000)))
    assert result.rule == "max_order_loss"
    assert result.reason == (
        "this order would lose 600.00 USDT if its stop at 28,000.00 is hit; the most one order may risk is 250.00 USDT"
    )


def test_an_order_without_a_stop_is_not_given_an_invented_one(make_risk: MakeRisk) -> None:
    """No stop-loss and no auto_protect: the position will have no stop, so there is no loss
    at a stop to measure (the position and exposure limits bound it instead)."""
    assert check(make_risk(max_order_loss=D(100)), request("BTC/USDT:USDT", side=Side.SELL, size="0.3")).approved


def test_max_order_loss_at_the_auto_stop_when_auto_protect_is_on(make_risk: MakeRisk) -> None:
    risk = make_risk(max_order_loss=D(100), trading_auto_protect=True)
    result = check(risk, request("BTC/USDT:USDT", side=Side.SELL, size="0.3"))
    assert result.rule == "max_order_loss"
    assert result.reason == (
        "this order would lose 180.00 USDT if its stop at 30,600.00 is hit; the most one order may risk is 100.00 USDT"
    )
    assert check(risk, request("BTC/USDT:USDT", side=Side.SELL, size="0.3", stop_loss=D(30300))).approved


@pytest.mark.parametrize(
    ("side", "levels", "message"),
    [
        (Side.BUY, {"stop_loss": D(30100)}, "a long's stop-loss must be below the buy order's limit price 30,000.00; 30,100.00 is not"),
        (Side.BUY, {"take_profit": D(29000)}, "a long's take-profit must be above the buy order's limit price 30,000.00; 29,000.00 is not"),
        (Side.SELL, {"stop_loss": D(29900)}, "a short's stop-loss must be above the sell order's limit price 30,000.00; 29,900.00 is not"),
        (Side.SELL, {"take_profit": D(30000)},
         "a short's take-profit must be below the sell order's limit price 30,000.00; 30,000.00 is not"),
    ],
)
def test_levels_on_the_wrong_side_of_the_order_are_refused(
    make_risk: MakeRisk, side: Side, levels: dict[str, D], message: str
) -> None:
    result = check(make_risk(), request("BTC/USDT:USDT", side=side, **levels))
    assert (result.rule, result.reason) == ("protective_levels", message)


def test_max_leverage_on_perpetuals(make_risk: MakeRisk) -> None:
    risk = make_risk()
    result = check(risk, request("BTC/USDT:USDT", leverage=5))
    assert result == RiskCheckResult(False, "leverage 5x on BTC/USDT:USDT is above the 3x limit", "max_leverage")
    assert check(risk, request("BTC/USDT:USDT", leverage=3)).approved


def test_default_leverage_applies_when_the_request_has_none(make_risk: MakeRisk) -> None:
    risk = make_risk(trading_default_leverage=5)
    assert check(risk, request("BTC/USDT:USDT")).rule == "max_leverage"
    assert check(risk, request("BTC/USDT")).approved  # spot has no leverage


def test_max_open_positions_blocks_a_new_market(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT", Side.BUY, "0.01", "30000")
    open_position(portfolio, "ETH/USDT", Side.BUY, "0.1", "2500")
    risk = make_risk(max_open_positions=3)
    sol_order = working(request("SOL/USDT", size="1", price=D(100)))
    assert check(risk, request("BTC/USDT:USDT", size="0.01")).approved
    result = check(risk, request("BTC/USDT:USDT", size="0.01"), open_orders=[sol_order])
    assert result.rule == "max_open_positions"
    assert result.reason == (
        "BTC/USDT:USDT would be a new position while 3 markets already hold a position or a working order; the limit is 3"
    )
    assert check(risk, request("BTC/USDT", size="0.01"), open_orders=[sol_order]).approved


def test_no_new_exposure_without_equity(clock: SimClock, bus: EventBus) -> None:
    portfolio = Portfolio(clock)
    portfolio.register_instrument(BTC)
    risk = RiskManager(RiskConfig(), TradingConfig(), portfolio, bus, clock)
    result = check(risk, request())
    assert result.rule == "equity"
    assert result.reason == "equity is 0.00 USDT, so no new exposure can be sized against it (have the balances been synced?)"


def test_daily_loss_rule_still_blocks_new_exposure_after_a_reset(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT:USDT", Side.BUY, "1", "30000")
    risk = make_risk(max_daily_loss=D(1000), max_position_pct=0.5)
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(28900))
    assert check(risk, request(size="0.01")).rule == "halted"
    risk.reset("alice")
    result = check(risk, request(size="0.01"))
    assert result.rule == "max_daily_loss"
    assert result.reason == (
        "today's loss of 1,100.00 USDT has reached the daily limit of 1,000.00 USDT; "
        "only orders that reduce a position pass until the UTC day ends"
    )
    assert check(risk, request("BTC/USDT:USDT", side=Side.SELL, size="1", price=D(28900))).approved


def test_daily_loss_pct_rule_uses_the_days_starting_equity(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    open_position(portfolio, "BTC/USDT:USDT", Side.BUY, "2", "30000")
    risk = make_risk(max_daily_loss_pct=0.05, max_position_pct=0.9, max_symbol_exposure_pct=1, max_total_exposure_pct=1)
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(27000))
    risk.reset("alice")
    result = check(risk, request(size="0.01"))
    assert result.rule == "max_daily_loss_pct"
    assert result.reason == (
        "today's loss of 6,000.00 USDT is 6% of the day's starting equity 100,000.00 USDT; the limit is 5%"
    )


def test_the_daily_loss_rule_sees_a_new_utc_day_and_an_edited_limit_with_nothing_else_changed(
    make_risk: MakeRisk, portfolio: Portfolio, clock: SimClock
) -> None:
    """The rule's verdict is kept between orders while what it reads stands: the day's roll of
    the portfolio moves no revision, and a limit is edited in place."""
    open_position(portfolio, "BTC/USDT:USDT", Side.BUY, "1", "30000")
    risk = make_risk(max_daily_loss=D(1000), max_position_pct=0.5)
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(28900))
    risk.reset("alice")
    assert check(risk, request(size="0.01")).rule == "max_daily_loss"
    risk.config.max_daily_loss = D(2000)
    assert check(risk, request(size="0.01")).approved
    risk.config.max_daily_loss = D(1000)
    assert check(risk, request(size="0.01")).rule == "max_daily_loss"
    clock.advance(86_400_000)  # the loss was yesterday's: today starts from the equity it left
    assert check(risk, request(size="0.01")).approved


@pytest.mark.parametrize("instrument", [BTC, ETH, SOL, PERP])
def test_every_instrument_accepts_a_small_order(make_risk: MakeRisk, instrument: Any) -> None:
    req = OrderRequest(venue="paper", symbol=instrument.symbol, side=Side.BUY, type=OrderType.MARKET, size=D(1))
    assert PreTradeGate(make_risk()).limits(req, instrument, D(50), []).approved
