"""Portfolio accounting: average cost, realized/unrealized PnL, fees, equity, day and peak."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import SimClock
from core.events import EventBus, PositionChanged
from core.models import Balance, ContractType, Fill, Instrument, Position, PositionSide, Side
from core.portfolio import DAY_MS, Portfolio, UnknownInstrument
from core.portfolio_state import AccountingStateError

SPOT = Instrument(venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.0001"))
PERP = Instrument(
    venue="paper", symbol="BTC/USDT:USDT", base="BTC", quote="USDT", contract_type=ContractType.LINEAR_PERPETUAL,
    tick_size=D("0.1"), lot_size=D("0.001"), max_leverage=20,
)
ETH_PERP = Instrument(
    venue="paper", symbol="ETH/USDT:USDT", base="ETH", quote="USDT", contract_type=ContractType.LINEAR_PERPETUAL,
    tick_size=D("0.01"), lot_size=D("0.01"), contract_size=D("0.1"), max_leverage=20,
)
_ids = itertools.count()


def fill(instrument: Instrument, side: Side, size: str, price: str, fee: str = "0", fee_currency: str = "") -> Fill:
    return Fill(
        fill_id=f"f{next(_ids)}", client_order_id="ot-1", venue=instrument.venue, symbol=instrument.symbol,
        side=side, size=D(size), price=D(price), fee=D(fee), fee_currency=fee_currency,
    )


@pytest.fixture
def portfolio(clock: SimClock) -> Portfolio:
    p = Portfolio(clock)
    for instrument in (SPOT, PERP, ETH_PERP):
        p.register_instrument(instrument)
    p.set_balances("paper", [Balance(asset="USDT", free=D(10000))])
    return p


def usdt(p: Portfolio) -> D:
    return next(b.total for b in p.balances("paper") if b.asset == "USDT")


def test_spot_round_trip_books_average_cost_realized_pnl_and_fees(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.1", "40000", fee="4"))
    position = portfolio.apply_fill(fill(SPOT, Side.BUY, "0.1", "42000", fee="4.2"))
    assert position is not None and position.size == D("0.2") and position.entry_price == D(41000)
    assert usdt(portfolio) == D(10000) - D(8200) - D("8.2")

    partial = portfolio.apply_fill(fill(SPOT, Side.SELL, "0.05", "45000", fee="2.25"))
    assert partial is not None and partial.size == D("0.15") and partial.entry_price == D(41000)
    assert partial.realized_pnl == D(200)
    assert portfolio.realized_pnl() == D(200)
    assert portfolio.fees_paid() == D("10.45")

    closed = portfolio.apply_fill(fill(SPOT, Side.SELL, "0.15", "40000"))
    assert closed is not None and closed.size == 0 and closed.side is PositionSide.LONG
    assert closed.realized_pnl == D(200) - D(150)
    assert portfolio.positions() == []
    # Every quote unit spent or received is in the balance: gross PnL minus fees.
    assert usdt(portfolio) == D(10000) + D(50) - D("10.45")


def test_equity_values_spot_holdings_at_mark(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.1", "40000"))
    assert portfolio.equity() == D(10000)
    portfolio.update_mark("paper", "BTC/USDT", D(41000))
    assert portfolio.equity() == D(10100)
    position = portfolio.position("paper", "BTC/USDT")
    assert position is not None and position.unrealized_pnl == D(100) and position.mark_price == D(41000)
    assert portfolio.exposure() == D(4100)


def test_spot_fee_in_base_asset_reduces_the_holding_and_is_valued_at_the_fill_price(portfolio: Portfolio) -> None:
    position = portfolio.apply_fill(fill(SPOT, Side.BUY, "1", "100", fee="0.001", fee_currency="BTC"))
    assert position is not None and position.size == D("0.999") and position.entry_price == D(100)
    assert portfolio.fees_paid() == D("0.1")
    assert portfolio.equity() == D(10000) - D("0.1")


def test_spot_sell_without_a_tracked_position_moves_balances_only(portfolio: Portfolio) -> None:
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(1000)), Balance(asset="BTC", free=D(1))])
    assert portfolio.apply_fill(fill(SPOT, Side.SELL, "0.5", "100")) is None
    assert portfolio.positions() == []
    assert {b.asset: b.total for b in portfolio.balances("paper")} == {"USDT": D(1050), "BTC": D("0.5")}


def test_spot_sell_beyond_the_position_closes_it_without_going_short(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.1", "100"))
    closed = portfolio.apply_fill(fill(SPOT, Side.SELL, "0.3", "110"))
    assert closed is not None and closed.size == 0 and closed.realized_pnl == D(1)
    assert portfolio.positions() == []


def test_perp_long_partial_close_then_flip_to_short(portfolio: Portfolio) -> None:
    portfolio.set_leverage("paper", "BTC/USDT:USDT", 5)
    long = portfolio.apply_fill(fill(PERP, Side.BUY, "2", "100", fee="0.2"))
    assert long is not None and long.side is PositionSide.LONG and long.leverage == 5 and long.margin == D(40)
    reduced = portfolio.apply_fill(fill(PERP, Side.SELL, "1", "110"))
    assert reduced is not None and reduced.size == 1 and reduced.entry_price == D(100) and reduced.realized_pnl == D(10)
    flipped = portfolio.apply_fill(fill(PERP, Side.SELL, "3", "120"))
    assert flipped is not None and flipped.side is PositionSide.SHORT and flipped.size == 2
    assert flipped.entry_price == D(120) and flipped.realized_pnl == D(20)
    assert portfolio.realized_pnl() == D(30)
    # Perp PnL settles in the quote balance; the contracts themselves are not an asset.
    assert usdt(portfolio) == D(10000) + D(30) - D("0.2")
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(115))
    short = portfolio.position("paper", "BTC/USDT:USDT")
    assert short is not None and short.unrealized_pnl == D(10)
    assert portfolio.equity() == D(10000) + D(30) - D("0.2") + D(10)


def test_contract_size_scales_pnl_and_exposure(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(ETH_PERP, Side.SELL, "10", "2000"))
    portfolio.update_mark("paper", "ETH/USDT:USDT", D(1900))
    position = portfolio.position("paper", "ETH/USDT:USDT")
    assert position is not None and position.unrealized_pnl == D(100)
    assert portfolio.exposure(symbol="ETH/USDT:USDT") == D(1900)
    assert portfolio.exposure(venue="other") == 0


@pytest.mark.parametrize(
    ("side", "leverage", "expected"),
    [
        # long: entry * (1 - 1/L) / (1 - mmr); short: entry * (1 + 1/L) / (1 + mmr); mmr = 0.005
        (Side.BUY, 10, D(100) * D("0.9") / D("0.995")),
        (Side.SELL, 10, D(100) * D("1.1") / D("1.005")),
        (Side.SELL, 1, D(200) / D("1.005")),
        (Side.BUY, 1, None),
    ],
)
def test_isolated_liquidation_price(portfolio: Portfolio, side: Side, leverage: int, expected: D | None) -> None:
    portfolio.set_leverage("paper", "BTC/USDT:USDT", leverage)
    position = portfolio.apply_fill(fill(PERP, side, "1", "100"))
    assert position is not None and position.liquidation_price == expected


def test_a_fill_opens_the_position_at_its_orders_leverage_and_keeps_it(portfolio: Portfolio) -> None:
    assert portfolio.leverage_in_use("paper", "BTC/USDT:USDT") == (1, "config default")
    opened = portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"), leverage=5)
    assert opened is not None and opened.leverage == 5
    assert (opened.margin, opened.liquidation_price) == (D(20), D(80) / D("0.995"))
    added = portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"), leverage=7)
    assert added is not None and added.leverage == 5
    assert portfolio.leverage_in_use("paper", "BTC/USDT:USDT") == (5, "open position")


def test_liquidation_distance_and_leverage_change(portfolio: Portfolio) -> None:
    portfolio.set_leverage("paper", "BTC/USDT:USDT", 10)
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(95))
    liquidation = D(90) / D("0.995")
    assert portfolio.liquidation_distance("paper", "BTC/USDT:USDT") == float((D(95) - liquidation) / D(95))
    portfolio.set_leverage("paper", "BTC/USDT:USDT", 2)
    position = portfolio.position("paper", "BTC/USDT:USDT")
    assert position is not None and position.margin == D(50) and position.liquidation_price == D(50) / D("0.995")
    assert portfolio.liquidation_distance("paper", "BTC/USDT") is None


def test_reconciliation_takes_the_venue_position(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(104))
    portfolio.set_position(
        Position(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.SHORT, size=D(3), entry_price=D(101),
                 leverage=3, margin=D(99), liquidation_price=D(130))
    )
    position = portfolio.position("paper", "BTC/USDT:USDT")
    assert position is not None and position.signed_size == -3 and position.liquidation_price == D(130)
    assert position.margin == D(99) and position.unrealized_pnl == D(-9)
    portfolio.set_position(
        Position(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.SHORT, size=D(0), entry_price=D(101))
    )
    assert portfolio.positions() == []


def test_reconciled_position_without_liquidation_price_gets_ours(portfolio: Portfolio) -> None:
    portfolio.set_position(
        Position(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.LONG, size=D(1), entry_price=D(100), leverage=10)
    )
    position = portfolio.position("paper", "BTC/USDT:USDT")
    assert position is not None and position.liquidation_price == D(90) / D("0.995")


def test_daily_pnl_starts_at_the_first_sync_and_resets_at_utc_midnight(clock: SimClock) -> None:
    clock.set(5 * DAY_MS + 3_600_000)
    portfolio = Portfolio(clock)
    portfolio.register_instrument(PERP)
    assert portfolio.daily_pnl() == 0 and portfolio.start_of_day_equity() is None
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(1000))])
    assert portfolio.start_of_day_equity() == D(1000)
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100", fee="1"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(90))
    assert portfolio.daily_pnl() == D(-11)

    clock.set(6 * DAY_MS + 1)
    assert portfolio.start_of_day_equity() == D(989)
    assert portfolio.daily_pnl() == 0
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(95))
    assert portfolio.daily_pnl() == D(5)


def test_day_start_waits_until_every_holding_has_a_price(clock: SimClock) -> None:
    portfolio = Portfolio(clock)
    portfolio.register_instrument(SPOT)
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(1000)), Balance(asset="BTC", free=D(1))])
    assert portfolio.start_of_day_equity() is None and portfolio.peak_equity() == D(1000)
    portfolio.update_mark("paper", "BTC/USDT", D(500))
    assert portfolio.start_of_day_equity() == D(1500)
    assert portfolio.daily_pnl() == 0


def test_a_holding_is_revalued_by_the_marks_that_price_it_only(clock: SimClock) -> None:
    """A mark that prices nothing held moves the revision, not the equity; one that prices a
    holding (the perpetual's, while the spot market has none) revalues it, and a first mark of
    the spot market takes over."""
    portfolio = Portfolio(clock)
    for instrument in (SPOT, PERP, ETH_PERP):
        portfolio.register_instrument(instrument)
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(1000)), Balance(asset="BTC", free=D(1))])
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(500))
    portfolio.update_mark("paper", "ETH/USDT:USDT", D(20))
    assert portfolio.equity() == D(1500)
    revision = portfolio.revision
    portfolio.update_mark("paper", "ETH/USDT:USDT", D(30))
    assert portfolio.equity() == D(1500) and portfolio.revision == revision + 1
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(600))
    assert portfolio.equity() == D(1600) and portfolio.peak_equity() == D(1600)
    portfolio.update_mark("paper", "BTC/USDT", D(700))
    assert portfolio.equity() == D(1700)
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(100))
    assert portfolio.equity() == D(1700)


def test_peak_drawdown_and_rebase(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(PERP, Side.BUY, "10", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(200))
    assert portfolio.peak_equity() == D(11000)
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(100))
    assert portfolio.drawdown() == pytest.approx(1000 / 11000)
    portfolio.rebase_peak()
    assert portfolio.peak_equity() == D(10000) and portfolio.drawdown() == 0


def test_unregistered_instrument_is_refused_with_a_clear_message(portfolio: Portfolio) -> None:
    other = SPOT.model_copy(update={"symbol": "DOGE/USDT", "base": "DOGE"})
    with pytest.raises(UnknownInstrument, match="DOGE/USDT on venue 'paper' is not registered"):
        portfolio.apply_fill(fill(other, Side.BUY, "1", "0.1"))


@pytest.mark.parametrize("price", [D(0), D(-1)])
def test_non_positive_mark_is_refused(portfolio: Portfolio, price: D) -> None:
    with pytest.raises(ValueError, match="must be greater than 0"):
        portfolio.update_mark("paper", "BTC/USDT", price)


def test_bad_settings_are_refused(clock: SimClock) -> None:
    with pytest.raises(ValueError, match="default leverage"):
        Portfolio(clock, default_leverage=0)
    with pytest.raises(ValueError, match="maintenance margin"):
        Portfolio(clock, maintenance_margin_rate=D(1))


def test_position_changes_are_published_when_a_bus_is_given(clock: SimClock) -> None:
    bus = EventBus()
    changes = bus.subscribe(PositionChanged)
    portfolio = Portfolio(clock, bus=bus)
    portfolio.register_instrument(PERP)
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(101))
    portfolio.apply_fill(fill(PERP, Side.SELL, "1", "102"))
    portfolio.set_position(
        Position(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.LONG, size=D(2), entry_price=D(99))
    )
    portfolio.set_position(
        Position(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.LONG, size=D(0), entry_price=D(99))
    )
    portfolio.set_position(
        Position(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.LONG, size=D(0), entry_price=D(99))
    )
    seen = [(e.position.size, e.closed) for e in changes.drain() if isinstance(e, PositionChanged)]
    assert seen == [(D(1), False), (D(0), True), (D(2), False), (D(0), True)]



trades = st.lists(
    st.tuples(
        st.sampled_from([SPOT, PERP]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=50),  # size in 0.01
        st.integers(min_value=50, max_value=150),  # price
        st.integers(min_value=0, max_value=20),  # fee in 0.01 USDT
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(trades, st.integers(min_value=50, max_value=150))
def test_equity_change_is_realized_plus_unrealized_minus_fees(
    sequence: list[tuple[Instrument, Side, int, int, int]], last: int
) -> None:
    """Whatever the fills, the cash ledger and the PnL attribution tell the same story."""
    portfolio = Portfolio(SimClock())
    for instrument in (SPOT, PERP):
        portfolio.register_instrument(instrument)
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(100000))])
    start = portfolio.equity()
    for instrument, side, hundredths, price, fee in sequence:
        size = D(hundredths) / 100
        held = portfolio.position("paper", SPOT.symbol)
        if instrument is SPOT and side is Side.SELL:
            size = min(size, held.size if held else D(0))  # only coins we bought can be sold
            if size == 0:
                continue
        portfolio.update_mark("paper", instrument.symbol, D(price))
        portfolio.apply_fill(fill(instrument, side, str(size), str(price), fee=str(D(fee) / 100)))
    for symbol in (SPOT.symbol, PERP.symbol):
        portfolio.update_mark("paper", symbol, D(last))
    unrealized = sum((p.unrealized_pnl for p in portfolio.positions()), D(0))
    expected = portfolio.realized_pnl() + unrealized - portfolio.fees_paid()
    assert abs(portfolio.equity() - start - expected) < D("1e-12")
    spot = portfolio.position("paper", SPOT.symbol)
    btc = {b.asset: b.total for b in portfolio.balances("paper")}.get("BTC", D(0))
    assert btc == (spot.size if spot else 0)


def test_sync_closes_perpetual_positions_the_venue_no_longer_lists(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"))
    portfolio.apply_fill(fill(ETH_PERP, Side.SELL, "5", "2000"))
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.1", "100"))
    eth = Position(venue="paper", symbol="ETH/USDT:USDT", side=PositionSide.SHORT, size=D(4), entry_price=D(2000))
    portfolio.sync_positions("paper", [eth])
    held = {p.symbol: p.size for p in portfolio.positions()}
    assert held == {"ETH/USDT:USDT": D(4), "BTC/USDT": D("0.1")}  # spot positions are not venue positions


def test_a_balance_sync_shrinks_a_spot_position_to_the_coins_held(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.5", "100"))
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(9950)), Balance(asset="BTC", free=D("0.2"))])
    position = portfolio.position("paper", "BTC/USDT")
    assert position is not None and position.size == D("0.2") and position.margin == D(20)
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(9950)), Balance(asset="BTC", free=D("0.7"))])
    kept = portfolio.position("paper", "BTC/USDT")
    assert kept is not None and kept.size == D("0.2")
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(10000))])
    assert portfolio.positions() == []


def test_a_venue_connecting_later_adds_equity_not_profit(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(90))
    assert portfolio.daily_pnl() == D(-10)
    portfolio.set_balances("binance", [Balance(asset="USDT", free=D(5000)), Balance(asset="ETH", free=D(2))])
    assert portfolio.daily_pnl() == D(-10) and portfolio.start_of_day_equity() == D(10000)
    portfolio.update_mark("binance", "ETH/USDT", D(2000))
    assert portfolio.daily_pnl() == D(-10) and portfolio.start_of_day_equity() == D(19000)
    portfolio.update_mark("binance", "ETH/USDT", D(1900))
    assert portfolio.daily_pnl() == D(-210)
    assert portfolio.equity() == D(9990) + D(8800)


def test_a_restart_keeps_the_days_losses_the_peak_and_spot_positions(clock: SimClock, portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.5", "100", fee="0.05"))
    portfolio.apply_fill(fill(PERP, Side.BUY, "10", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(110))
    portfolio.apply_fill(fill(PERP, Side.SELL, "10", "95"))
    saved = portfolio.accounting_state()
    before = (portfolio.daily_pnl(), portfolio.peak_equity(), portfolio.realized_pnl(), portfolio.fees_paid())

    clock.advance(3_600_000)
    restarted = Portfolio(clock)
    restarted.restore_accounting(saved)
    for instrument in (SPOT, PERP):
        restarted.register_instrument(instrument)
    restarted.set_balances("paper", portfolio.balances("paper"))
    restarted.update_mark("paper", "BTC/USDT", D(100))
    assert (restarted.daily_pnl(), restarted.peak_equity(), restarted.realized_pnl(), restarted.fees_paid()) == before
    assert before[0] == D(-50) - D("0.05") and before[1] == D(10100) - D("0.05")
    spot = restarted.position("paper", "BTC/USDT")
    assert spot is not None and spot.size == D("0.5") and spot.entry_price == D(100)


def test_a_restart_on_a_new_day_starts_a_new_day(clock: SimClock, portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(PERP, Side.BUY, "1", "100"))
    portfolio.update_mark("paper", "BTC/USDT:USDT", D(90))
    saved = portfolio.accounting_state()
    clock.advance(DAY_MS)
    restarted = Portfolio(clock)
    restarted.register_instrument(PERP)
    restarted.set_balances("paper", [Balance(asset="USDT", free=D(9990))])
    restarted.restore_accounting(saved)
    assert restarted.daily_pnl() == 0 and restarted.peak_equity() == D(10000)


def test_restored_spot_positions_never_exceed_the_coins_held(clock: SimClock, portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(SPOT, Side.BUY, "0.5", "100"))
    saved = portfolio.accounting_state()
    restarted = Portfolio(clock)
    restarted.set_balances("paper", [Balance(asset="USDT", free=D(9950)), Balance(asset="BTC", free=D("0.2"))])
    restarted.restore_accounting(saved)
    assert restarted.positions() == []
    restarted.register_instrument(SPOT)
    position = restarted.position("paper", "BTC/USDT")
    assert position is not None and position.size == D("0.2")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "Expecting value"),
        ("[]", "not a JSON object"),
        ('{"version": 7}', "version 7, expected 1"),
        ('{"version": 1, "day": 1}', "missing key 'day_start'"),
        ('{"version": 1, "day": 1, "day_start": {}, "peak": "lots", "realized": "0", "fees": "0", '
         '"spot_positions": []}', "ConversionSyntax"),
    ],
)
def test_unreadable_saved_state_is_refused_with_a_reason(portfolio: Portfolio, text: str, problem: str) -> None:
    with pytest.raises(AccountingStateError, match="saved portfolio state cannot be read") as caught:
        portfolio.restore_accounting(text)
    assert problem in str(caught.value)
