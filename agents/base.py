"""What every agent sees and the little every agent shares.

An ``AnalysisContext`` is a snapshot of one symbol at one instant: candles per timeframe, the
book, derivatives data, the account. Agents read it and never mutate it, except through
``memo``, which lets several agents share one indicator computation within a cycle.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.backtest.data import timeframe_ms
from core.config import RiskConfig
from core.models import AgentOpinion, Candle, Direction, OrderBook, Position

T = TypeVar("T")

COLUMNS = ("ts", "open", "high", "low", "close", "volume")
YEAR_MS = 365 * 86_400_000


@dataclass(frozen=True, slots=True)
class Candles:
    """One timeframe of candles as aligned float64 columns (timestamps as int64 ms)."""

    ts: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]

    @classmethod
    def from_array(cls, rows: npt.ArrayLike) -> Candles:
        """From an (n, 6) array or ccxt's list of [ts, open, high, low, close, volume]."""
        data = np.asarray(rows, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] < 6:
            raise ValueError("candles must have six columns: ts, open, high, low, close, volume")
        return cls(data[:, 0].astype(np.int64), *(np.ascontiguousarray(data[:, i]) for i in range(1, 6)))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Candles:
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"candle frame lacks column(s): {', '.join(missing)}")
        return cls(
            frame["ts"].to_numpy(dtype=np.int64),
            *(frame[c].to_numpy(dtype=np.float64) for c in COLUMNS[1:]),
        )

    @classmethod
    def from_models(cls, candles: Sequence[Candle]) -> Candles:
        return cls.from_array([[c.ts, c.open, c.high, c.low, c.close, c.volume] for c in candles] or np.empty((0, 6)))

    @classmethod
    def coerce(cls, value: Any) -> Candles:
        """From Candles, a DataFrame, anything with the six column attributes (the backtester's
        Bars), a list of Candle models, or an (n, 6) array."""
        if isinstance(value, Candles):
            return value
        if isinstance(value, pd.DataFrame):
            return cls.from_frame(value)
        if all(hasattr(value, name) for name in COLUMNS):
            return cls(np.asarray(value.ts, dtype=np.int64), *(np.asarray(getattr(value, c), dtype=np.float64) for c in COLUMNS[1:]))
        if isinstance(value, Sequence) and value and isinstance(value[0], Candle):
            return cls.from_models(value)
        return cls.from_array(value)

    def __len__(self) -> int:
        return len(self.close)

    def tail(self, n: int) -> Candles:
        if n >= len(self):
            return self
        return Candles(self.ts[-n:], self.open[-n:], self.high[-n:], self.low[-n:], self.close[-n:], self.volume[-n:])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: getattr(self, name) for name in COLUMNS})

    @property
    def last_close(self) -> float:
        return float(self.close[-1])


@dataclass(slots=True)
class Proposal:
    """The coordinator's fused view, handed to the Risk agent for the final word."""

    direction: Direction
    strength: float
    confidence: float
    price: float
    stop_loss: float | None
    take_profit: float | None
    opinions: tuple[AgentOpinion, ...] = ()


@dataclass
class AnalysisContext:
    """A snapshot of one symbol for one analysis cycle.

    ``candles`` maps a timeframe ('1h') to its candles, in the order the caller ranks them: the
    first is the primary timeframe, used for prices, stops and the forecast. ``peer_closes``
    holds close prices of symbols with open positions, aligned in time with the primary
    timeframe, for the Risk agent's correlation check. ``equity_peak`` and ``daily_pnl`` let
    Risk measure drawdown and the day's loss; without them those checks are reported as skipped.
    """

    symbol: str
    now_ms: int
    candles: Mapping[str, Any]
    venue: str = "paper"
    order_book: OrderBook | None = None
    funding_rate: float | None = None
    open_interest: Sequence[float] | None = None
    long_short_ratio: float | None = None
    positions: Sequence[Position] = ()
    equity: Decimal = Decimal(0)
    equity_peak: Decimal | None = None
    daily_pnl: Decimal | None = None
    risk: RiskConfig = field(default_factory=RiskConfig)
    peer_closes: Mapping[str, npt.ArrayLike] = field(default_factory=dict)
    proposal: Proposal | None = None
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.candles = {tf: Candles.coerce(value) for tf, value in self.candles.items()}
        for tf in self.candles:
            timeframe_ms(tf)

    @property
    def timeframes(self) -> list[str]:
        return list(self.candles)

    @property
    def primary_timeframe(self) -> str | None:
        return next(iter(self.candles), None)

    def series(self, timeframe: str | None = None) -> Candles | None:
        """Candles of a timeframe (the primary one by default), or None when there are none."""
        tf = timeframe or self.primary_timeframe
        found: Candles | None = self.candles.get(tf) if tf else None
        return found if found is not None and len(found) else None

    def data_age_ms(self, timeframe: str | None = None) -> int | None:
        """Time since the latest candle closed: a stale feed shows up in every opinion."""
        tf = timeframe or self.primary_timeframe
        candles = self.series(tf)
        if candles is None or tf is None:
            return None
        return max(0, self.now_ms - (int(candles.ts[-1]) + timeframe_ms(tf)))

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute once per context and share: Market, Strategy and Risk all want the ATR."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value


class Agent(ABC):
    """An analyst with one point of view. Subclasses set ``name`` and implement ``analyze``."""

    name: str = "agent"
    timeout_s: float | None = None  # longer than the coordinator's default when the agent needs it
    min_candles: int = 0  # of the primary timeframe, for a view: the scheduler fetches at least that many

    @abstractmethod
    async def analyze(self, context: AnalysisContext) -> AgentOpinion: ...

    def no_data(self, reason: str = "", data_age_ms: int | None = None) -> AgentOpinion:
        """An abstention: marked as without data, it has no weight in the fusion and counts as
        abstaining on the Agents screen (hold with zero strength and confidence, for readers
        that only look at the view)."""
        return no_data_opinion(self.name, reason, data_age_ms)


def no_data_opinion(agent: str, reason: str = "", data_age_ms: int | None = None) -> AgentOpinion:
    return AgentOpinion(
        agent=agent,
        direction=Direction.HOLD,
        strength=0.0,
        confidence=0.0,
        rationale=f"no data: {reason}" if reason else "no data",
        data_age_ms=data_age_ms,
        has_data=False,
    )


def clip01(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def direction_of(score: float, threshold: float) -> Direction:
    if score > threshold:
        return Direction.BUY
    if score < -threshold:
        return Direction.SELL
    return Direction.HOLD


def scored_opinion(
    agent: str,
    score: float,
    confidence: float,
    rationale: str,
    inputs: Mapping[str, Any],
    data_age_ms: int | None,
    threshold: float = 0.15,
) -> AgentOpinion:
    """An opinion from a bullish-positive score in [-1, 1]: the sign is the direction, the size
    the strength; inside the dead band the agent holds with what strength it has."""
    score = 0.0 if math.isnan(score) else max(-1.0, min(1.0, score))
    return AgentOpinion(
        agent=agent,
        direction=direction_of(score, threshold),
        strength=round(abs(score), 4),
        confidence=round(clip01(confidence), 4),
        rationale=rationale,
        inputs={k: json_safe(v) for k, v in inputs.items()},
        data_age_ms=data_age_ms,
    )


def json_safe(value: Any) -> Any:
    """Round floats and turn NaN into None so that opinions serialise to plain JSON."""
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else round(number, 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
