"""Performance reports: each strategy's and the account's return, win rate, profit factor,
Sharpe ratio, maximum drawdown, fees, funding and exposure over a day, a week, a month or all
the history, from the stored fills, live and paper alike.

The fills are replayed from the first one through the one ledger (``core.ledger``), so a period
starts with the positions it inherited at their average cost, and a figure here is the figure
the portfolio and the venues book. Each strategy has its own books (as its runner keeps them);
fills without a strategy (orders placed by hand) are ``manual``; the total is the account's
books over every fill. The ratios are ``core.backtest.metrics``'s, so a live report and a
backtest define them alike, over one bar per UTC day:

- a trade is a round trip: a book from flat back to flat (or through zero); its P&L is what it
  realized net of every fee of its fills, plus the funding it received (minus what it paid).
  Win rate and profit factor are over the round trips closed in the period.
- capital is the capital employed: the largest cost of the open positions (size at the average
  entry, times the contract size) at any point of the period. Return is the period's net P&L
  on it; the equity curve is that capital plus the realized P&L net of fees and funding, day by day,
  and the Sharpe ratio (annualised over 365 days) and the maximum drawdown are of that curve. Open
  positions are valued apart (``unrealized``, at the latest mark): the stored history has fills,
  not past marks.
- exposure is the share of the period's time with a position open.
- funding: the payments the venues settled on perpetual positions (``funding_payments``, one
  row per market and funding time), in the P&L as fees are: net is realized - fees + funding.
  A venue pays the account's position, not a strategy's, so each payment is shared among the
  books by their signed size at its funding time (the fills up to then replayed): a strategy
  gets the payment times its share of the account's position, which is what its own position
  would have been paid at the same rate and mark. The total takes every payment whole; a
  payment on a position no recorded fill explains (held before the history, or opened
  elsewhere) is in the total only, and the notes say how much.

Periods are in UTC: the day so far, the week since Monday, the month since its first day, or
everything since the first fill; each runs to ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from core.backtest.metrics import Metrics, TradeRecord, compute_metrics
from core.ledger import ONE, ContractSize, Key, Ledger
from core.models import ZERO, Fill, FundingPayment, Instrument

DAY_MS = 86_400_000
MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday
PERIODS = ("day", "week", "month", "all")
MANUAL = "manual"
TOTAL = "total"

Mark = Callable[[str, str], Decimal | None]  # (venue, symbol) -> the latest mark, None when unknown


class ReportError(ValueError):
    """A report asked for something that does not exist (a period, a strategy): the message
    says what does."""


def period_start(period: str, now_ms: int, first_fill_ts: int | None) -> int:
    if period == "day":
        return now_ms - now_ms % DAY_MS
    if period == "week":
        return now_ms - (now_ms - MONDAY_OFFSET_MS) % (7 * DAY_MS)
    if period == "month":
        moment = datetime.fromtimestamp(now_ms / 1000, UTC)
        return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)
    if period == "all":
        return min(first_fill_ts, now_ms) if first_fill_ts is not None else now_ms
    raise ReportError(f"unknown period '{period}': use {', '.join(PERIODS)}")


def fee_in_quote(fill: Fill) -> Decimal:
    """A fee charged in the base currency (some spot venues take it from what was bought) is
    worth its size at the fill's price."""
    base = fill.symbol.split("/", 1)[0]
    return fill.fee * fill.price if fill.fee_currency == base else fill.fee


@dataclass(frozen=True)
class Performance:
    name: str
    fills: int
    volume: Decimal  # notional traded in the period
    trades: int  # round trips closed in the period
    realized: Decimal  # P&L of size closed in the period, before fees
    fees: Decimal
    funding: Decimal  # received (negative: paid), module doc
    net: Decimal  # realized - fees + funding
    unrealized: Decimal  # open positions at the latest mark, now
    open_positions: int
    unmarked: tuple[str, ...]  # open markets without a mark (left out of unrealized)
    capital: Decimal  # peak capital employed in the period
    total_return: float | None  # fraction of capital
    win_rate: float | None
    profit_factor: float | None
    sharpe: float | None
    max_drawdown: float  # fraction, <= 0
    exposure: float  # share of the period with a position open

    def to_dict(self) -> dict[str, object]:
        """Plain JSON values: money as exact decimal strings, ratios as numbers or null."""
        return {
            "name": self.name, "fills": self.fills, "volume": str(self.volume), "trades": self.trades,
            "realized": str(self.realized), "fees": str(self.fees),
            "funding": str(self.funding), "net": str(self.net),
            "unrealized": str(self.unrealized), "open_positions": self.open_positions, "unmarked": list(self.unmarked),
            "capital": str(self.capital), "return": self.total_return, "win_rate": self.win_rate,
            "profit_factor": self.profit_factor, "sharpe": self.sharpe, "max_drawdown": self.max_drawdown,
            "exposure": self.exposure,
        }


@dataclass(frozen=True)
class Report:
    period: str
    since_ms: int
    until_ms: int
    strategies: list[Performance]
    total: Performance | None  # None when the report is of one strategy
    unattributed_funding: Decimal = ZERO  # in the total, on positions no strategy's fills explain

    def to_dict(self) -> dict[str, object]:
        return {"period": self.period, "since_ms": self.since_ms, "until_ms": self.until_ms,
                "strategies": [row.to_dict() for row in self.strategies],
                "total": self.total.to_dict() if self.total is not None else None,
                "unattributed_funding": str(self.unattributed_funding)}


@dataclass
class _Trip:
    """A round trip under way in one book."""

    opened_ts: int
    entry: Decimal
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    peak: Decimal = ZERO  # largest size, in base units


class _Replay:
    """One set of books (a strategy's or the account's) through its fills, keeping the
    period's figures."""

    def __init__(self, contract_size: ContractSize, start: int, end: int) -> None:
        self.ledger = Ledger(contract_size)
        self.start, self.end = start, end
        self.days = (end - end % DAY_MS - (start - start % DAY_MS)) // DAY_MS + 1
        self.daily = np.zeros(self.days)
        self.trips: dict[Key, _Trip] = {}
        self.trades: list[TradeRecord] = []
        self.fills = 0
        self.volume = self.realized = self.fees = self.funding = self.cost = self.capital = ZERO
        self.open_books = 0
        self.open_since = 0
        self.exposed_ms = 0

    def _day(self, ts: int) -> int:
        return (ts - ts % DAY_MS - (self.start - self.start % DAY_MS)) // DAY_MS

    def apply(self, fill: Fill) -> None:
        book = self.ledger.book(fill.venue, fill.symbol)
        counted = fill.ts >= self.start
        if counted and not self.fills:
            self.capital = self.cost  # what the period inherited
        fee = fee_in_quote(fill)
        before, cost_before = book.size, abs(book.size) * book.entry * book.contract_size
        realized = book.fill(fill.size * fill.side.sign, fill.price, fee, fill.ts)
        self.cost += abs(book.size) * book.entry * book.contract_size - cost_before
        self._exposure(before, book.size, fill.ts)
        self._trip(fill, before, book.size, book.entry, book.contract_size, realized, fee, counted)
        if counted:
            self.fills += 1
            self.volume += fill.notional * book.contract_size
            self.realized += realized
            self.fees += fee
            self.capital = max(self.capital, self.cost)
            self.daily[min(self._day(fill.ts), self.days - 1)] += float(realized - fee)

    def fund(self, venue: str, symbol: str, amount: Decimal, ts: int) -> None:
        """This book's part of a funding payment: into its position, the round trip under
        way and, in the period, the day's P&L."""
        self.ledger.book(venue, symbol).funding += amount
        trip = self.trips.get((venue, symbol))
        if trip is not None:
            trip.pnl += amount
        if ts >= self.start:
            self.funding += amount
            self.daily[min(self._day(ts), self.days - 1)] += float(amount)

    def size(self, venue: str, symbol: str) -> Decimal:
        found = self.ledger.books.get((venue, symbol))
        return found.size if found is not None else ZERO

    def _exposure(self, before: Decimal, after: Decimal, ts: int) -> None:
        opened, closed = before == 0 and after != 0, before != 0 and after == 0
        if opened:
            self.open_books += 1
            if self.open_books == 1:
                self.open_since = ts
        elif closed:
            self.open_books -= 1
            if self.open_books == 0:
                self.exposed_ms += max(0, min(ts, self.end) - max(self.open_since, self.start))

    def _trip(self, fill: Fill, before: Decimal, after: Decimal, entry: Decimal, contract_size: Decimal,
              realized: Decimal, fee: Decimal, counted: bool) -> None:
        key = (fill.venue, fill.symbol)
        trip = self.trips.get(key)
        if trip is None:
            if after == 0:
                return
            trip = self.trips[key] = _Trip(fill.ts, entry)
        trip.pnl += realized
        trip.fees += fee
        trip.peak = max(trip.peak, abs(before) * contract_size, abs(after) * contract_size)
        if after != 0 and (before == 0 or (before > 0) == (after > 0)):
            return
        del self.trips[key]
        if counted:
            self.trades.append(TradeRecord(
                symbol=fill.symbol, side="long" if before > 0 else "short", size=float(trip.peak),
                entry_bar=max(0, self._day(trip.opened_ts)), exit_bar=self._day(fill.ts), entry_ts=trip.opened_ts,
                exit_ts=fill.ts, entry_price=float(trip.entry), exit_price=float(fill.price),
                pnl=float(trip.pnl - trip.fees), fees=float(trip.fees)))
        if after != 0:  # through zero: the rest opens the next round trip
            self.trips[key] = _Trip(fill.ts, entry, peak=abs(after) * contract_size)

    def result(self, name: str, mark: Mark) -> Performance:
        if not self.fills:
            self.capital = self.cost  # held through a period without fills
        exposed = self.exposed_ms
        if self.open_books:
            exposed += max(0, self.end - max(self.open_since, self.start))
        unrealized, unmarked, open_positions = ZERO, [], 0
        for (venue, symbol), book in sorted(self.ledger.books.items()):
            if book.size:
                open_positions += 1
                price = mark(venue, symbol)
                if price is None:
                    unmarked.append(f"{symbol}@{venue}")
                else:
                    unrealized += book.unrealized(price)
        metrics = self._metrics()
        return Performance(
            name=name, fills=self.fills, volume=self.volume, trades=len(self.trades), realized=self.realized,
            fees=self.fees, funding=self.funding, net=self.realized - self.fees + self.funding,
            unrealized=unrealized,
            open_positions=open_positions, unmarked=tuple(unmarked), capital=self.capital,
            total_return=metrics.total_return if metrics else None, win_rate=metrics.win_rate if metrics else None,
            profit_factor=metrics.profit_factor if metrics else None, sharpe=metrics.sharpe if metrics else None,
            max_drawdown=metrics.max_drawdown if metrics else 0.0,
            exposure=exposed / (self.end - self.start) if self.end > self.start else 0.0,
        )

    def _metrics(self) -> Metrics | None:
        """The backtester's metrics over the daily equity curve; None without capital employed
        (nothing was held in the period: there is no return to speak of)."""
        if self.capital <= 0:
            return None
        capital = float(self.capital)
        days = self.start - self.start % DAY_MS + DAY_MS * np.arange(self.days, dtype=np.int64)
        return compute_metrics(capital + np.cumsum(self.daily), days, self.trades, step_ms=DAY_MS,
                               start_equity=capital, exposed_bars=0, fees=float(self.fees))


def _contract_size_of(contract_size: ContractSize | None) -> ContractSize:
    return contract_size if contract_size is not None else (lambda venue, symbol: ONE)


def contract_sizes(instrument: Callable[[str, str], Instrument | None]) -> ContractSize:
    """Contract sizes from the markets the engine knows (``Portfolio.instrument``); a market
    it no longer lists counts at one."""

    def size(venue: str, symbol: str) -> Decimal:
        found = instrument(venue, symbol)
        return found.contract_size if found is not None else ONE

    return size


def build_report(
    fills: Iterable[Fill], period: str, now_ms: int, *, mark: Mark, contract_size: ContractSize | None = None,
    strategies: Sequence[str] = (), strategy: str | None = None, funding: Iterable[FundingPayment] = (),
) -> Report:
    """The report over ``period`` up to ``now_ms``: a row per strategy (those named in
    ``strategies`` even without fills, then any other that has fills, then ``manual``) and the
    total; with ``strategy``, that one row only. ``funding``: the payments on record, shared as
    the module doc says. An unknown strategy is a ReportError naming the known ones."""
    ordered = sorted(fills, key=lambda fill: fill.ts)
    payments = sorted(funding, key=lambda payment: payment.ts)
    first = min([*(f.ts for f in ordered[:1]), *(p.ts for p in payments[:1])], default=None)
    start = period_start(period, now_ms, first)
    names = list(dict.fromkeys([*strategies, *(f.strategy_id for f in ordered if f.strategy_id)]))
    if any(f.strategy_id is None for f in ordered):
        names.append(MANUAL)
    if strategy is not None and strategy not in names:
        known = ", ".join(names) or "none yet"
        raise ReportError(f"unknown strategy '{strategy}': strategies configured or with fills: {known}")
    sizes = _contract_size_of(contract_size)
    books = {name: _Replay(sizes, start, now_ms) for name in names}
    total = _Replay(sizes, start, now_ms)
    unattributed = ZERO
    # a fill at a funding time was in the position that time paid on
    events: list[tuple[int, int, Fill | FundingPayment]] = sorted(
        [*((f.ts, 0, f) for f in ordered), *((p.ts, 1, p) for p in payments)], key=lambda event: event[:2])
    for ts, _, event in events:
        if ts > now_ms:
            break
        if isinstance(event, Fill):
            books[event.strategy_id or MANUAL].apply(event)
            total.apply(event)
            continue
        if not _share(event, books.values(), total.size(event.venue, event.symbol)) and ts >= start:
            unattributed += event.amount
        total.fund(event.venue, event.symbol, event.amount, ts)
    shown = [strategy] if strategy is not None else names
    return Report(period, start, now_ms, [books[name].result(name, mark) for name in shown],
                  total.result(TOTAL, mark) if strategy is None else None, unattributed)


def _share(payment: FundingPayment, books: Iterable[_Replay], account: Decimal) -> bool:
    """Give each book holding the market its part of ``payment`` by its signed share of the
    ``account``'s position (the last one the rest, so the parts add up to the payment exactly);
    False when the fills explain no position to share it by."""
    holding = [(book, book.size(payment.venue, payment.symbol)) for book in books]
    holding = [(book, size) for book, size in holding if size]
    if not account or not holding:
        return False
    given = ZERO
    for book, size in holding[:-1]:
        part = payment.amount * size / account
        book.fund(payment.venue, payment.symbol, part, payment.ts)
        given += part
    holding[-1][0].fund(payment.venue, payment.symbol, payment.amount - given, payment.ts)
    return True


def _percent(value: float | None, *, sign: bool = False) -> str:
    return "-" if value is None else f"{value * 100:{'+' if sign else ''}.2f}%"


def _money(value: Decimal, *, sign: bool = False) -> str:
    return f"{value:{'+' if sign else ''},.2f}"


#: (label, how a row shows it): the columns of `opentrade report` and the rows of the Reports screen
FIGURES: list[tuple[str, Callable[[Performance], str]]] = [
    ("Return", lambda p: _percent(p.total_return, sign=True)),
    ("Win rate", lambda p: _percent(p.win_rate)),
    ("Profit factor", lambda p: "-" if p.profit_factor is None else f"{p.profit_factor:.2f}"),
    ("Sharpe", lambda p: "-" if p.sharpe is None else f"{p.sharpe:.2f}"),
    ("Max drawdown", lambda p: _percent(p.max_drawdown)),
    ("Net P&L", lambda p: _money(p.net, sign=True)),
    ("Fees", lambda p: _money(p.fees)),
    ("Funding", lambda p: _money(p.funding, sign=True)),
    ("Exposure", lambda p: _percent(p.exposure)),
    ("Trades", lambda p: str(p.trades)),
    ("Fills", lambda p: str(p.fills)),
    ("Capital", lambda p: _money(p.capital)),
    ("Open P&L", lambda p: _money(p.unrealized, sign=True) + (" *" if p.unmarked else "")),
]


def span_text(report: Report) -> str:
    since = datetime.fromtimestamp(report.since_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    until = datetime.fromtimestamp(report.until_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    return f"{since} to {until} UTC"


def notes(report: Report) -> list[str]:
    """What a reader needs to read the figures right: what capital and funding mean here, and
    open positions left out of Open P&L for want of a mark."""
    rows = [*report.strategies, *([report.total] if report.total is not None else [])]
    unmarked = sorted({market for row in rows for market in row.unmarked})
    lines = ["Return is on capital employed (the largest cost of the open positions); Sharpe and drawdown are of "
             "the realized P&L net of fees and funding, by day.",
             "Funding is in Net P&L; each payment is shared among the strategies by their share of the position it "
             "was paid on."]
    if report.unattributed_funding:
        lines.append(f"Funding {_money(report.unattributed_funding, sign=True)} on positions no recorded fill explains: "
                     "in the total only.")
    if unmarked:
        lines.append(f"* no mark for {', '.join(unmarked)}: left out of Open P&L.")
    return lines
