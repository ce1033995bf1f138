"""The daily review (second design document, section 7): strategies evolve, carefully.

1. record the day's trades (the strategy's fills), 2. compute its performance (live, and the
current parameters backtested), 3. mutate the parameters with the genetic algorithm, seeded
with the current ones, on the older part of the recent candles, 4. backtest the best variants
on the newest part, which the search never saw, 5. keep the winner only if it beats the current
parameters there, 6. save it as a new strategy version.

``daily_review`` reviews one strategy (``opentrade evolve``); ``review_running`` reviews every
strategy the app runs, from the database; ``run_daily`` schedules it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

from core.backtest.data import Bars, DataError, bars_from_candles
from core.backtest.executor import Executor, run_backtest
from core.backtest.optimizer import Candidate, Progress, SearchSettings, optimize
from core.backtest.result import BacktestSettings
from core.ledger import ContractSize, Ledger
from core.models import ZERO, Candle, Fill
from core.ports import Clock
from core.strategies.base import Strategy
from core.strategies.runner import StrategyEngine, StrategyVersions

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class ReviewSettings:
    search: SearchSettings = field(default_factory=lambda: SearchSettings(population=16, generations=6))
    holdout_fraction: float = 0.3  # newest share of the candles kept out of the search
    finalists: int = 5  # best in-sample variants backtested out-of-sample
    min_improvement: float = 0.0  # how much better (in the objective) a challenger must be


@dataclass(frozen=True)
class DayPerformance:
    fills: int
    closing_fills: int
    winning_fills: int
    realized_pnl: Decimal
    fees: Decimal
    volume: Decimal

    @property
    def win_rate(self) -> float | None:
        return self.winning_fills / self.closing_fills if self.closing_fills else None

    def to_dict(self) -> dict[str, Any]:
        return {"fills": self.fills, "closing_fills": self.closing_fills, "win_rate": self.win_rate,
                "realized_pnl": str(self.realized_pnl), "fees": str(self.fees), "volume": str(self.volume)}


@dataclass
class ReviewResult:
    strategy_id: str
    kind: str
    live: DayPerformance
    current: Candidate
    challenger: Candidate
    adopted: bool
    params: dict[str, Any]
    version: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "strategy_id": self.strategy_id, "kind": self.kind, "live": self.live.to_dict(),
            "current": self.current.to_dict(), "challenger": self.challenger.to_dict(),
            "adopted": self.adopted, "params": self.params, "version": self.version,
        }


def day_performance(fills: Sequence[Fill], contract_size: ContractSize | None = None) -> DayPerformance:
    """The day's trading from its fills: realized PnL from the ledger, per market, at each
    market's ``contract_size`` (1 where it is not known, as for ``opentrade evolve``, which
    connects to no venue)."""
    ledger = Ledger(contract_size)
    closing = winning = 0
    volume = ZERO
    for fill in sorted(fills, key=lambda f: f.ts):
        book = ledger.book(fill.venue, fill.symbol)
        reducing = book.size != 0 and (book.size > 0) != (fill.side.sign > 0)
        realized = ledger.apply(fill)
        volume += fill.notional
        if reducing:
            closing += 1
            winning += realized > 0
    return DayPerformance(
        fills=len(fills), closing_fills=closing, winning_fills=winning,
        realized_pnl=sum((b.realized for b in ledger.books.values()), ZERO),
        fees=sum((b.fees for b in ledger.books.values()), ZERO), volume=volume,
    )


def _out_of_sample(strategy_cls: type[Strategy], bars: Bars, split: int, params: Mapping[str, Any],
                   settings: BacktestSettings, search: SearchSettings) -> Candidate:
    warmup = strategy_cls(params).warmup()
    window = bars.slice(max(0, split - warmup), len(bars))
    metrics = run_backtest(strategy_cls, window, params, settings, search.engine).metrics.to_dict()
    value = metrics.get(search.objective)
    score = float(value) if value is not None and metrics["trades"] >= search.min_trades else -math.inf
    return Candidate(dict(params), score, metrics)


async def daily_review(
    strategy_id: str,
    strategy_cls: type[Strategy],
    params: Mapping[str, Any],
    bars: Bars,
    *,
    fills: Sequence[Fill] = (),
    versions: StrategyVersions | None = None,
    review: ReviewSettings | None = None,
    settings: BacktestSettings | None = None,
    now_ms: int = 0,
    executor: Executor | None = None,
    progress: Progress | None = None,
    contract_size: ContractSize | None = None,
) -> ReviewResult:
    """Review one strategy on its recent candles and the day's fills (module docstring).

    The search runs in a thread (and on ``executor``'s workers), never on the event loop;
    ``progress`` is told (done, total) evaluations from that thread.
    """
    review = review or ReviewSettings()
    settings = settings or BacktestSettings()
    current_params = strategy_cls.validate_params(params)
    split = int(len(bars) * (1 - review.holdout_fraction))
    if split < 50 or len(bars) - split < 20:
        raise ValueError(f"{len(bars)} candles are too few for a review (need at least 50 to search and 20 to check)")
    live = day_performance(fills, contract_size)
    optimized = await asyncio.to_thread(
        partial(optimize, base=current_params, executor=executor, progress=progress),
        strategy_cls, bars.slice(0, split), review.search, settings,
    )

    def check(candidates: Sequence[dict[str, Any]]) -> list[Candidate]:
        return [_out_of_sample(strategy_cls, bars, split, p, settings, review.search) for p in candidates]

    current, *finalists = await asyncio.to_thread(
        check, [current_params, *[c.params for c in optimized.top[: review.finalists]]]
    )
    challenger = max(finalists, key=lambda c: c.score, default=current)
    adopted = challenger.params != current_params and challenger.score > current.score + review.min_improvement
    result = ReviewResult(strategy_id, strategy_cls.name, live, current, challenger, adopted,
                          challenger.params if adopted else current_params)
    if adopted and versions is not None:
        note = json.dumps({"review": "daily", "objective": review.search.objective,
                           "out_of_sample": challenger.score, "previous": _finite(current.score),
                           "live": live.to_dict()}, default=str)
        result.version = await versions.save_strategy_version(strategy_id, result.params, note, now_ms)
    log.info("daily review of %s: %s", strategy_id, "new parameters adopted" if adopted else "parameters kept")
    return result


class ReviewStore(Protocol):
    """What the in-app review reads from ``core.storage.Database``."""

    async def load_candles(self, venue: str, symbol: str, timeframe: str, since_ms: int | None = None,
                           until_ms: int | None = None) -> list[Candle]: ...

    async def load_fills(self, *, strategy_id: str | None = None, since_ms: int | None = None) -> list[Fill]: ...


async def review_running(
    engine: StrategyEngine,
    store: ReviewStore,
    now_ms: int,
    *,
    lookback_ms: int = 90 * DAY_MS,
    review: ReviewSettings | None = None,
    settings: BacktestSettings | None = None,
) -> dict[str, ReviewResult | str]:
    """The scheduled daily review inside the app: every loaded single-symbol strategy is
    reviewed on its stored candles of the last ``lookback_ms`` and the day's fills; winners are
    applied through the engine, which validates them and stores the new version. Returns the
    review per strategy id, or why it was skipped."""
    outcomes: dict[str, ReviewResult | str] = {}
    for info in engine.list_strategies():
        if len(info.symbols) != 1 or engine.context(info.strategy_id).strategy.needs_signals:
            outcomes[info.strategy_id] = "skipped: the review backtests single-symbol strategies on candles alone"
            continue
        candles = await store.load_candles(info.venue, info.symbols[0], info.timeframe, since_ms=now_ms - lookback_ms)
        try:
            bars = bars_from_candles(info.symbols[0], info.timeframe, candles, allow_gaps=True)
            fills = await store.load_fills(strategy_id=info.strategy_id, since_ms=now_ms - DAY_MS)
            result = await daily_review(info.strategy_id, type(engine.context(info.strategy_id).strategy), info.params,
                                        bars, fills=fills, review=review, settings=settings, now_ms=now_ms,
                                        contract_size=lambda v, s: engine.host.instrument(v, s).contract_size)
        except (DataError, ValueError) as exc:
            outcomes[info.strategy_id] = f"skipped: {exc}"
            continue
        if result.adopted:
            await engine.set_params(info.strategy_id, result.params, note=json.dumps(
                {"review": "daily", "out_of_sample": _finite(result.challenger.score),
                 "previous": _finite(result.current.score)}))
        outcomes[info.strategy_id] = result
    return outcomes


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def next_run_ms(now_ms: int, hour_utc: int) -> int:
    """The next time of day ``hour_utc``:00 UTC strictly after ``now_ms``."""
    today = now_ms - now_ms % DAY_MS + hour_utc * 3_600_000
    return today if today > now_ms else today + DAY_MS


async def run_daily(clock: Clock, hour_utc: int, job: Callable[[], Awaitable[Any]]) -> None:
    """Run ``job`` every day at ``hour_utc`` until cancelled; a failed review is logged and the
    schedule goes on (the app runs this as a task)."""
    if not 0 <= hour_utc < 24:
        raise ValueError(f"hour must be between 0 and 23 (got {hour_utc})")
    while True:
        now = clock.now_ms()
        await clock.sleep((next_run_ms(now, hour_utc) - now) / 1000)
        try:
            await job()
        except Exception:
            log.exception("the daily review failed; it will run again tomorrow")
