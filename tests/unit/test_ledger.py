"""The ledger's arithmetic, the order's fill arithmetic and the simulated exchange's account."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.ledger import Book, Ledger, average_cost, perpetual_margin
from core.models import ContractType, Fill, Instrument, Order, OrderStatus, OrderType, Side
from core.sim import Account, SimExchange
from core.sim.account import Hold

PERP = Instrument(venue="sim", symbol="ETH/USDT:USDT", base="ETH", quote="USDT",
                  contract_type=ContractType.LINEAR_PERPETUAL, tick_size=D("0.01"), lot_size=D("1"),
                  contract_size=D("0.1"), maker_fee=D("0.0002"), taker_fee=D("0.0005"), max_leverage=20)
SPOT = Instrument(venue="sim", symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))


@pytest.mark.parametrize(
    ("size", "entry", "signed", "price", "can_short", "expected"),
    [
        (D(0), D(0), D(2), D(100), True, (D(2), D(100), D(0))),  # open
        (D(2), D(100), D(2), D(110), True, (D(4), D(105), D(0))),  # add: average cost
        (D(4), D(105), D(-1), D(125), True, (D(3), D(105), D(20) * D("0.1"))),  # reduce: entry kept
        (D(3), D(105), D(-5), D(95), True, (D(-2), D(95), D(-30) * D("0.1"))),  # through zero: new entry
        (D(-2), D(95), D(2), D(90), True, (D(0), D(0), D(10) * D("0.1"))),  # close
        (D(1), D(100), D(-3), D(90), False, (D(0), D(0), D(-10) * D("0.1"))),  # spot stops at zero
        (D(0), D(0), D(-1), D(90), False, (D(0), D(0), D(0))),  # spot: nothing to sell
    ],
)
def test_average_cost_with_the_contract_size(size: D, entry: D, signed: D, price: D, can_short: bool,
                                             expected: tuple[D, D, D]) -> None:
    assert average_cost(size, entry, signed, price, D("0.1"), can_short=can_short) == expected


def test_a_book_keeps_fees_funding_margin_and_liquidation_apart() -> None:
    book = Book(D("0.1"))
    assert book.fill(D(10), D(2000), fee=D("1"), ts=5, leverage=5) == 0
    assert (book.created_ts, book.leverage, book.margin()) == (5, 5, D(2000) * 10 * D("0.1") / 5)
    assert book.pay_funding(D("0.0001"), D(2100), ts=6) == -D("0.0001") * 2100 * 10 * D("0.1")  # a long pays
    assert book.fill(D(-4), D(2100), fee=D("0.5"), ts=7, leverage=9) == D(100) * 4 * D("0.1")
    assert (book.size, book.entry, book.leverage, book.fees) == (D(6), D(2000), 5, D("1.5"))
    assert book.unrealized(D(1900)) == D(-100) * 6 * D("0.1")
    assert book.liquidation_price() == D(2000) * D("0.8") / D("0.995")
    position = book.to_position("sim", PERP.symbol, D(1900), perpetual=True)
    assert position.realized_pnl == book.realized + book.funding and position.margin == book.margin()
    assert book.fill(D(-8), D(1800), ts=8, leverage=2) == D(-200) * 6 * D("0.1")
    assert (book.size, book.entry, book.leverage, book.created_ts) == (D(-2), D(1800), 2, 8)
    assert book.liquidate(ts=9) == D(1800) * 2 * D("0.1") / 2 and book.size == 0


def test_liquidation_prices() -> None:
    assert perpetual_margin(True, D(100), D(1), D(1), 10) == (D(10), D(90) / D("0.995"))
    assert perpetual_margin(False, D(100), D(2), D("0.5"), 4) == (D(25), D(125) / D("1.005"))
    assert perpetual_margin(True, D(100), D(1), D(1), 1)[1] is None  # a 1x long cannot be liquidated


def test_a_ledger_books_fills_by_market_at_their_contract_size() -> None:
    ledger = Ledger(lambda venue, symbol: D("0.1") if symbol == PERP.symbol else D(1))
    for side, symbol, price in ((Side.BUY, PERP.symbol, 100), (Side.BUY, SPOT.symbol, 100),
                                (Side.SELL, PERP.symbol, 110), (Side.SELL, SPOT.symbol, 110)):
        ledger.apply(Fill(fill_id=f"{symbol}{side}", client_order_id="c", venue="sim", symbol=symbol, side=side,
                          price=D(price), size=D(2), fee=D("0.1")))
    assert [b.realized for b in ledger.books.values()] == [D(2), D(20)]
    assert all(b.fees == D("0.2") and b.size == 0 for b in ledger.books.values())


def order(size: str = "3") -> Order:
    return Order(client_order_id="o", venue="sim", symbol=PERP.symbol, side=Side.BUY, type=OrderType.LIMIT,
                 size=D(size), price=D(100))


def test_the_average_price_of_an_order_is_exact_however_its_fills_come() -> None:
    """The ccxt paper mode rounded it to the tick at each fill (and averaged the rounded value
    again), the paper venue to a ten-thousandth of a tick, the backtester to the tick."""
    whole, parts = order(), order()
    notional = whole.add_fill(D("100.01"), D(1), D(0), 1, D(0))
    whole.add_fill(D("100.02"), D(2), D(0), 2, notional)
    notional = D(0)
    for price in ("100.01", "100.02", "100.02"):
        notional = parts.add_fill(D(price), D(1), D("0.1"), 3, notional)
    assert whole.avg_price == parts.avg_price == D("300.05") / 3
    assert (parts.status, parts.filled_size, parts.fee) == (OrderStatus.FILLED, D(3), D("0.3"))
    half = order("2")
    half.add_fill(D("100.01"), D(1), D(0), 4, D(0))
    assert (half.status, half.avg_price, half.updated_ts) == (OrderStatus.PARTIALLY_FILLED, D("100.01"), 4)


def test_a_venue_report_is_taken_only_when_it_says_more_was_filled() -> None:
    known = order()
    assert known.take_fill_totals(D(2), D("100.5"), D("0.2"))
    assert not known.take_fill_totals(D(1), D(99), D("0.9"))  # late: changes nothing
    assert (known.filled_size, known.avg_price, known.fee) == (D(2), D("100.5"), D("0.2"))


def test_the_account_locks_perpetual_margin_at_the_contract_size() -> None:
    """The paper venue's account ignored the contract size in margin and PnL."""
    account = Account({"USDT": (D(10_000), D(0))})
    hold = Hold("USDT", D(0))
    assert account.hold("USDT", D(500)) is None
    hold.amount = D(500)
    account.fill(PERP, hold, 1, D(2000), D(10), D(1), 5, 1)
    margin = D(2000) * 10 * D("0.1") / 5
    assert (account.free["USDT"], account.used["USDT"]) == (D(9500), margin + hold.amount)
    account.release(hold)
    realized = account.fill(PERP, Hold(""), -1, D(2100), D(10), D(1), 5, 2)
    assert realized == D(100) * 10 * D("0.1")
    assert (account.free["USDT"], account.used["USDT"]) == (D(10_000) + realized - 2, 0)


def test_a_stale_reduce_only_order_is_canceled_and_a_liquidation_takes_the_margin() -> None:
    exchange = SimExchange("sim", Account({"USDT": (D(100_000), D(0))}), fill_prefix="sim")
    exchange.add_market(PERP)
    exchange.replace_liquidity(PERP.symbol, [(-1, 200_000, 10)], 1)
    opened, _ = exchange.submit(Order(client_order_id="open", venue="sim", symbol=PERP.symbol, side=Side.BUY,
                                      type=OrderType.MARKET, size=D(10), leverage=10), 1, None)
    assert opened.order.status is OrderStatus.FILLED and opened.order.avg_price == D(2000)
    exit_order = Order(client_order_id="exit", venue="sim", symbol=PERP.symbol, side=Side.SELL, type=OrderType.LIMIT,
                       size=D(10), price=D(2500), reduce_only=True)
    assert exchange.submit(exit_order, 2, None)[0].order.status is OrderStatus.OPEN
    liquidation = exchange.account.book(PERP).liquidation_price()
    assert liquidation == D(2000) * D("0.9") / D("0.995")
    assert exchange.liquidate_at(PERP.symbol, D(1810), 3) is None  # not reached yet
    liquidated = exchange.liquidate_at(PERP.symbol, D(1809), 4)
    assert liquidated is not None
    closed, canceled = liquidated
    assert (closed.size, closed.mark_price, closed.realized_pnl) == (0, liquidation, -D(200))
    assert [(c.sim.order.client_order_id, c.status) for c in canceled] == [("exit", OrderStatus.CANCELED)]
    fee = D(2000) * 10 * D("0.1") * D("0.0005")
    assert exchange.account.balances()[0].total == D(100_000) - D(200) - fee
    assert exchange.account.used["USDT"] == 0
