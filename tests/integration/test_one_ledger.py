"""One ledger everywhere (issue 16): random fills and funding on a spot or a perpetual market of
any contract size give the same position, PnL, fees, funding, margin and liquidation price in
every part that keeps an account, each driven through its own doors:

- the paper venue and the ccxt paper mode: market orders against a book that holds exactly the
  level each fill is to take (the venue's own way of bringing liquidity: ``replace_liquidity``,
  and the live book's ``on_book``);
- the event backtester: a strategy sends the same orders on candles at those prices, on the
  venue's instrument; its strategy context is the strategy runner's books;
- the portfolio: the paper venue's fills, and its balances and positions after each funding, as
  the engine takes them;
- the reports: ``core.reports.build_report`` over the paper venue's fills in a database.

Funding goes through each simulated exchange's ``pay_funding`` (what the paper venue's funding
clock calls); strategies and reports have no funding. On a spot market sales never exceed what
was bought (the portfolio, like a spot venue, cannot go short).
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from core.backtest.data import bars_from_arrays
from core.backtest.engine import VENUE as BACKTEST
from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.clock import SimClock
from core.config import PaperVenueConfig
from core.events import EventBus
from core.ledger import Book
from core.models import Candle, Fill, Instrument, Order, OrderBook, OrderStatus, OrderType, Side
from core.portfolio import Portfolio
from core.reports import build_report, contract_sizes
from core.sim import SimExchange
from core.storage.database import Database
from core.strategies.base import Strategy
from exchanges.ccxt.paper import PaperAccount
from exchanges.paper.venue import PaperVenue

H = 3_600_000
START = 1_704_067_200_000
CASH = D(10) ** 9
MIN_NOTIONAL = D(5)  # the paper venue's markets' minimum


@dataclass(frozen=True)
class Step:
    """A fill of ``lots`` at ``ticks``, or (``side`` None) funding at ``rate`` on the mark ``ticks``."""

    side: Side | None
    lots: int
    ticks: int
    rate: D = D(0)


@dataclass(frozen=True)
class Scenario:
    perpetual: bool
    contract_size: D
    leverage: int
    steps: tuple[Step, ...]
    final_ticks: int

    @property
    def symbol(self) -> str:
        return "TST/USDT:USDT" if self.perpetual else "TST/USDT"


# the paper venue makes a market priced 1000 with a tick of 0.1 and a lot of 0.00001
TICK, LOT = D("0.1"), D("0.00001")
price_ticks = st.integers(8000, 12000)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    perpetual = draw(st.booleans())
    contract_size = D(draw(st.sampled_from(["1", "0.01", "0.1", "10"]))) if perpetual else D(1)
    leverage = draw(st.sampled_from([1, 3, 5, 20])) if perpetual else 1
    least = int(MIN_NOTIONAL / (LOT * 800 * contract_size)) + 1  # every order clears the minimum notional
    held, steps = 0, []
    for _ in range(draw(st.integers(1, 10))):
        if perpetual and steps and draw(st.integers(0, 3)) == 0:
            steps.append(Step(None, 0, draw(price_ticks), D(draw(st.integers(-30, 30))) / 100_000))
            continue
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        lots = draw(st.integers(least, 20 * least))
        if not perpetual and side is Side.SELL:
            if held < least:
                side = Side.BUY
            else:
                lots = draw(st.integers(least, held))
        held += lots * side.sign
        steps.append(Step(side, lots, draw(price_ticks)))
    return Scenario(perpetual, contract_size, leverage, tuple(steps), draw(price_ticks))


@dataclass
class Seen:
    """What one part says about the account, ``None`` where it has no such figure."""

    size: D | None
    entry: D | None
    realized: D
    fees: D
    funding: D | None = None
    margin: D | None = None
    liquidation: D | None = None
    unrealized: D | None = None
    equity: D | None = None


def from_book(book: Book, mark: D, perpetual: bool, equity: D | None = None) -> Seen:
    return Seen(book.size, book.entry, book.realized, book.fees, book.funding,
                book.margin() if perpetual and book.size else None,
                book.liquidation_price() if perpetual else None, book.unrealized(mark), equity)


def order(scenario: Scenario, n: int, step: Step) -> Order:
    assert step.side is not None
    return Order(client_order_id=f"o-{n}", venue="paper", symbol=scenario.symbol, side=step.side,
                 type=OrderType.MARKET, size=step.lots * LOT, leverage=scenario.leverage if scenario.perpetual else None,
                 strategy_id="script")


def level(step: Step) -> list[tuple[D, D]]:
    return [(step.ticks * TICK, step.lots * LOT)]


def exchange_equity(exchange: SimExchange, instrument: Instrument, mark: D) -> D:
    account = exchange.account
    book = account.book(instrument)
    held = book.unrealized(mark) if instrument.is_perpetual else account.total(instrument.base) * mark
    return account.total(instrument.quote) + held


class Script(Strategy):
    """Sends the scenario's orders on the candles at their prices; pays its funding."""

    name: ClassVar[str] = "script"

    def __init__(self, scenario: Scenario, tester: Backtester) -> None:
        super().__init__(strategy_id="script")
        self.scenario, self.tester, self.bar = scenario, tester, 0

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        if self.bar < len(self.scenario.steps):
            step = self.scenario.steps[self.bar]
            if step.side is None:
                self.tester.exchange.pay_funding(symbol, step.rate, step.ticks * TICK, self.ctx.now_ms())
            else:
                leverage = self.scenario.leverage if self.scenario.perpetual else None
                placed = await self.ctx.market(symbol, step.side, step.lots * LOT, leverage=leverage)
                assert placed is not None and placed.status is OrderStatus.FILLED, placed
        self.bar += 1


async def run(scenario: Scenario, home: Path) -> dict[str, Seen]:
    clock = SimClock(START)
    symbol, mark = scenario.symbol, scenario.final_ticks * TICK
    market = {"symbol": symbol, "price": "1000", "contract_size": str(scenario.contract_size)}
    venue = PaperVenue("paper", PaperVenueConfig(markets=[market], balances={"USDT": CASH}), clock, home / "p.sqlite")
    [instrument] = await venue.load_instruments()
    ccxt = PaperAccount("ccxt", {"USDT": CASH}, clock)
    ccxt.attach(EventBus(), {symbol: instrument})
    portfolio = Portfolio(clock)
    portfolio.register_instrument(instrument)
    portfolio.set_balances("paper", await venue.fetch_balances())
    fills: list[Fill] = []
    for n, step in enumerate(scenario.steps):
        clock.advance(1000)
        now = clock.now_ms()
        if step.side is None:
            for exchange in (venue.exchange, ccxt.exchange):
                exchange.pay_funding(symbol, step.rate, step.ticks * TICK, now)
            portfolio.set_balances("paper", await venue.fetch_balances())  # the engine's next account sync
            portfolio.sync_positions("paper", await venue.fetch_positions())
            continue
        book = {"bids": level(step)} if step.side is Side.SELL else {"asks": level(step)}
        venue.exchange.replace_liquidity(symbol, [(-step.side.sign, step.ticks, step.lots)], now)
        ccxt.on_book(OrderBook(venue="ccxt", symbol=symbol, ts=now, **book))
        ours = venue.submit(order(scenario, n, step))
        theirs = ccxt.submit(order(scenario, n, step))
        assert ours.status is theirs.status is OrderStatus.FILLED, (ours, theirs)
        assert ours.fill is not None and theirs.fill is not None and ours.fill.price == step.ticks * TICK
        fills.append(ours.fill)
        portfolio.apply_fill(ours.fill, scenario.leverage if scenario.perpetual else None)

    seen = {
        "paper venue": from_book(venue.exchange.account.book(instrument), mark, scenario.perpetual,
                                 exchange_equity(venue.exchange, instrument, mark)),
        "ccxt paper": from_book(ccxt.exchange.account.book(instrument), mark, scenario.perpetual,
                                exchange_equity(ccxt.exchange, instrument, mark)),
    }
    for name, positions, exchange in (("paper venue port", await venue.fetch_positions(), venue.exchange),
                                      ("ccxt port", ccxt.positions(), ccxt.exchange)):
        book = exchange.account.book(instrument)
        if scenario.perpetual and book.size:
            [p] = positions
            seen[name] = Seen(p.signed_size, p.entry_price, p.realized_pnl - book.funding, book.fees, book.funding,
                              p.margin, p.liquidation_price)
    venue.close()

    portfolio.update_mark("paper", symbol, mark)
    held = portfolio.position("paper", symbol)
    seen["portfolio"] = Seen(
        held.signed_size if held else D(0), held.entry_price if held else D(0), portfolio.realized_pnl(),
        portfolio.fees_paid(), None, held.margin if held and scenario.perpetual else None,
        held.liquidation_price if held else None, held.unrealized_pnl if held else D(0), portfolio.equity(),
    )

    prices = [float(s.ticks * TICK) for s in scenario.steps] + [float(mark)]
    bars = bars_from_arrays(symbol, "1h", [START + k * H for k in range(len(prices))], [(p, p, p, p, 1.0) for p in prices])
    tester = Backtester(bars, BacktestSettings(cash=float(CASH)),
                        instruments={symbol: instrument.model_copy(update={"venue": BACKTEST})})
    script = Script(scenario, tester)
    tester.strategies.add(script, venue=BACKTEST, symbols=[symbol], timeframe="1h")
    await tester.run()
    tested = tester.exchange.account.book(instrument)
    seen["backtester"] = from_book(tested, mark, scenario.perpetual, tester.equity())
    reported = tester.position(BACKTEST, symbol)  # what the backtester, as the strategies' host, says
    if reported is not None:
        seen["backtester port"] = Seen(reported.signed_size, reported.entry_price, reported.realized_pnl - tested.funding,
                                       tested.fees, margin=reported.margin if scenario.perpetual else None,
                                       liquidation=reported.liquidation_price, unrealized=reported.unrealized_pnl)
    runner = script.ctx
    runner.mark(symbol, mark)
    strategy_book = runner.book(symbol)
    seen["strategy runner"] = Seen(strategy_book.size, strategy_book.entry, strategy_book.realized, strategy_book.fees,
                                   unrealized=runner.unrealized())

    db = await Database.open(home / "ledger.sqlite")
    try:
        for fill in fills:
            await db.record_fill(fill)
        stored = await db.load_fills()
    finally:
        await db.close()
    report = build_report(stored, "all", max(fill.ts for fill in stored), mark=portfolio.mark,
                          contract_size=contract_sizes(portfolio.instrument))
    assert report.total is not None
    seen["reports"] = Seen(None, None, report.total.realized, report.total.fees)
    return seen


def agree(seen: dict[str, Seen], field: str, *, tolerance: D = D(0)) -> None:
    values = {name: getattr(s, field) for name, s in seen.items() if getattr(s, field) is not None}
    assert all(abs(v - w) <= tolerance for v in values.values() for w in values.values()), f"{field} differs: {values}"


def check(seen: dict[str, Seen]) -> None:
    """Every figure equal wherever it is kept; the realized PnL and the equity (summed in another
    order) to the last digits."""
    for field in ("size", "entry", "fees", "funding", "margin", "liquidation", "unrealized"):
        agree(seen, field)
    agree(seen, "realized", tolerance=D("1e-20"))
    agree(seen, "equity", tolerance=D("1e-12"))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(scenarios())
def test_every_part_keeps_the_same_account(scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as home:
        seen = asyncio.run(run(scenario, Path(home)))
    check(seen)
    assert seen["paper venue"].fees > 0 and len(seen) >= 6


def test_the_property_reaches_every_part() -> None:
    """One perpetual scenario with contract size 0.01: a long, funding, a partial close and a
    flip through zero, with every figure present in the parts that have it."""
    scenario = Scenario(True, D("0.01"), 5, (
        Step(Side.BUY, 900_000, 10_000), Step(None, 0, 10_100, D("0.0001")), Step(Side.SELL, 300_000, 10_500),
        Step(Side.SELL, 1_200_000, 9_800),
    ), 9_700)
    with tempfile.TemporaryDirectory() as home:
        seen = asyncio.run(run(scenario, Path(home)))
    assert set(seen) == {"paper venue", "ccxt paper", "paper venue port", "ccxt port", "portfolio", "backtester",
                         "backtester port", "strategy runner", "reports"}
    venue = seen["paper venue"]
    # 9 contracts of 0.01 long at 1000, 3 closed at 1050, 6 more sold at 980: short 6 from 980
    assert (venue.size, venue.entry) == (D(-6), D(980))
    assert venue.realized == D("0.01") * (3 * 50 + 6 * -20)
    assert venue.funding == -D("0.0001") * 1010 * 9 * D("0.01")
    assert venue.margin == D(980) * 6 * D("0.01") / 5
    check(seen)

