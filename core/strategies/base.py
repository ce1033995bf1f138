"""The Strategy base class and its declared, bounded parameters.

A strategy never talks to a venue: it sees candles, trades, fills and signals through callbacks
and acts through its ``StrategyContext`` (``core.strategies.runner``), which sends every order
through the host — the trading engine live, the backtester in a backtest — so risk checks always
apply and the same code runs in both. Parameters are declared with a type, bounds and a default
so the configuration loader, the optimiser and the TUI can change them safely.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from core.models import Fill, Signal, Trade

if TYPE_CHECKING:
    from core.backtest.data import Bars
    from core.strategies.recovery import Recovery
    from core.strategies.runner import StrategyContext


class CandleLike(Protocol):
    """A closed candle as strategies read it: ``core.models.Candle`` live, the backtest's
    lighter ``ReplayCandle`` (the same values, from arrays validated on loading)."""

    @property
    def ts(self) -> int: ...

    @property
    def open(self) -> float: ...

    @property
    def high(self) -> float: ...

    @property
    def low(self) -> float: ...

    @property
    def close(self) -> float: ...

    @property
    def volume(self) -> float: ...


class ParameterError(ValueError):
    """A strategy parameter that is unknown, of the wrong type or out of bounds."""


@dataclass(frozen=True)
class Param:
    """One tunable parameter. ``low``/``high`` bound numbers (inclusive); ``choices`` bound text."""

    name: str
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""
    tunable: bool = True

    def describe_bounds(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"at least {self.low:g}"
        if self.high is not None:
            return f"at most {self.high:g}"
        return f"a {self.kind.__name__}"

    def coerce(self, value: Any, strategy: str) -> Any:
        """The value as this parameter's type, within bounds, or a ParameterError naming both."""
        where = f"strategy '{strategy}': parameter '{self.name}'"
        try:
            converted = self._convert(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{where} must be {self.describe_bounds()} (got {value!r})") from None
        if self.choices and converted not in self.choices:
            raise ParameterError(f"{where} must be {self.describe_bounds()} (got {value!r})")
        if self.kind in (int, float):
            if not math.isfinite(converted):
                raise ParameterError(f"{where} must be a finite number (got {value!r})")
            if (self.low is not None and converted < self.low) or (self.high is not None and converted > self.high):
                raise ParameterError(f"{where} = {converted:g} is out of bounds: must be {self.describe_bounds()}")
        return converted

    def _convert(self, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
                return value.strip().lower() in ("true", "yes", "on", "1")
            raise ValueError(value)
        if self.kind is int:
            if isinstance(value, bool):
                raise TypeError(value)
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(value)
            return int(number)
        if self.kind is float:
            if isinstance(value, bool):
                raise TypeError(value)
            return float(value)
        return str(value)

    # ----- search space for the optimiser -------------------------------------------------------

    @property
    def searchable(self) -> bool:
        return self.tunable and (bool(self.choices) or (self.kind in (int, float) and self.low is not None and self.high is not None))

    def grid(self, points: int) -> list[Any]:
        """``points`` evenly spaced values across the bounds (distinct integers for ints)."""
        if self.choices:
            return list(self.choices)
        if self.kind is bool:
            return [False, True]
        assert self.low is not None and self.high is not None
        values = np.linspace(self.low, self.high, max(points, 1) if self.high > self.low else 1)
        if self.kind is int:
            return sorted({int(round(v)) for v in values})
        return [float(v) for v in values]

    def sample(self, rng: random.Random) -> Any:
        if self.choices:
            return rng.choice(self.choices)
        if self.kind is bool:
            return rng.random() < 0.5
        assert self.low is not None and self.high is not None
        if self.kind is int:
            return rng.randint(int(self.low), int(self.high))
        return self._readable(rng.uniform(self.low, self.high))

    def mutate(self, value: Any, rng: random.Random, scale: float) -> Any:
        """A nearby value: a Gaussian step of ``scale`` times the range, clipped to the bounds."""
        if self.choices or self.kind is bool:
            return self.sample(rng)
        assert self.low is not None and self.high is not None
        stepped = value + rng.gauss(0.0, scale * (self.high - self.low))
        clipped = min(max(stepped, self.low), self.high)
        return int(round(clipped)) if self.kind is int else self._readable(clipped)

    def _readable(self, value: float) -> float:
        """Four significant digits, so searched values stay legible in versions and reports,
        kept within the bounds (rounding may cross one)."""
        assert self.low is not None and self.high is not None
        return min(max(float(f"{value:.4g}"), self.low), self.high)


class Strategy:
    """Subclass, declare ``name`` and ``parameters``, and override the callbacks you need.

    Callbacks run on the engine's event loop and must not block. ``self.ctx`` is the only way
    out: orders, positions, equity, time and emitted signals.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    vectorised: ClassVar[bool] = False
    needs_signals: ClassVar[bool] = False  # trades only on agent signals (a backtest must replay some)

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        self.params: dict[str, Any] = self.validate_params(params or {})
        self.strategy_id = strategy_id or self.name
        self._ctx: StrategyContext | None = None
        self._history: dict[str, _History] = {}

    # ----- parameters ---------------------------------------------------------------------------

    @classmethod
    def param(cls, name: str) -> Param:
        for declared in cls.parameters:
            if declared.name == name:
                return declared
        raise ParameterError(
            f"strategy '{cls.name}' has no parameter '{name}' (it has: {', '.join(p.name for p in cls.parameters) or 'none'})"
        )

    @classmethod
    def validate_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in, every value coerced and bounded, then the cross-checks."""
        for key in given:
            cls.param(key)
        values = {p.name: p.coerce(given[p.name], cls.name) if p.name in given else p.default for p in cls.parameters}
        problems = cls.check(values)
        if problems:
            raise ParameterError(f"strategy '{cls.name}': " + "; ".join(problems))
        return values

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        """Constraints between parameters (override); each problem a sentence."""
        return []

    @classmethod
    def vector_targets(cls, bars: Bars, params: Mapping[str, Any]) -> np.ndarray:
        """Signed share of equity to hold after each bar's close, for the vectorised backtest.

        Only strategies with ``vectorised = True`` implement it, and their event-driven
        callbacks must trade exactly these targets (a test checks it for each of them).
        """
        raise NotImplementedError(f"strategy '{cls.name}' has no vectorised backtest path")

    @classmethod
    def short_symbols(cls, params: Mapping[str, Any], symbols: Sequence[str]) -> list[str]:
        """The symbols these parameters may sell short (override), for the warning about spot
        markets, where the strategy goes flat instead."""
        return []

    def warmup(self) -> int:
        """Candles of history the strategy needs (override when it uses indicators)."""
        return 1

    # ----- wiring ---------------------------------------------------------------------------------

    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy '{self.strategy_id}' is not attached to an engine")
        return self._ctx

    def attach(self, ctx: StrategyContext) -> None:
        self._ctx = ctx

    def history(self, symbol: str) -> _History:
        found = self._history.get(symbol)
        if found is None:
            found = self._history[symbol] = _History(max(self.warmup(), 2))
        return found

    def record(self, symbol: str, candle: CandleLike) -> None:
        """Called by the engine before ``on_bar`` so the history includes the bar."""
        try:
            self._history[symbol].append(candle)
        except KeyError:  # its first candle
            self.history(symbol).append(candle)

    # ----- callbacks (override) -------------------------------------------------------------------

    async def on_start(self) -> None:
        return None

    async def on_stop(self) -> None:
        return None

    def on_bar(self, symbol: str, candle: CandleLike) -> Awaitable[None] | None:
        """A candle closed; the history already holds it. Write it as a plain ``def`` when it
        awaits nothing (it decides, ``aim`` trades later): the engine then calls it without a
        coroutine, which a backtest closing a candle every few microseconds feels; ``async def``
        when it sends orders or awaits anything else. Live and backtest call it the same way."""
        return None

    async def on_tick(self, trade: Trade) -> None:
        return None

    def wants_ticks(self, symbol: str) -> bool:
        """Whether ``on_tick`` would act on the next print of ``symbol``: a backtest replays no
        prints inside a candle nobody listens to (and where no order rests). A strategy that
        overrides ``on_tick`` listens to every print unless it narrows this too."""
        return type(self).on_tick is not Strategy.on_tick

    async def on_fill(self, fill: Fill) -> None:
        return None

    async def on_signal(self, signal: Signal) -> None:
        return None

    def state(self) -> dict[str, Any]:
        """What the Strategies screen shows besides parameters and PnL (override)."""
        return {}

    # ----- restarts (override) --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What this strategy cannot derive from its orders and positions, in JSON types: saved
        whenever it changes and handed back to ``recover`` after a restart."""
        return {}

    async def recover(self, recovery: Recovery) -> None:
        """Rebuild the state after a restart, before the first decision, from the last
        ``snapshot`` (``recovery.saved``, None when there is none or it was unreadable), the
        working orders and fills in ``recovery``, and the positions ``self.ctx`` has rebuilt
        from the fills. Assign every field (a failed attempt is retried without the snapshot);
        orders are placed or canceled in ``on_start``, not here."""
        return None


class TargetStrategy(Strategy):
    """A strategy that decides a target exposure on a candle's close and trades it at the next
    price (the next open in a backtest) — the convention its ``vector_targets`` encodes."""

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self._pending: dict[str, float] = {}
        self.targets: dict[str, float] = {}

    def aim(self, symbol: str, target: float) -> None:
        """Hold ``target`` (signed share of equity) from the next price on."""
        if target != self.targets.get(symbol, 0.0):
            self.targets[symbol] = target
            self._pending[symbol] = target

    async def on_tick(self, trade: Trade) -> None:
        if trade.symbol in self._pending:
            await self.ctx.target_exposure(trade.symbol, self._pending.pop(trade.symbol), trade.price)

    def wants_ticks(self, symbol: str) -> bool:
        """Only a target still to trade needs the next print (unless a subclass has its own ``on_tick``)."""
        return symbol in self._pending or type(self).on_tick is not TargetStrategy.on_tick

    def state(self) -> dict[str, Any]:
        return {"targets": dict(self.targets), "pending": dict(self._pending)}

    def snapshot(self) -> dict[str, Any]:
        return self.state()

    async def recover(self, recovery: Recovery) -> None:
        saved = recovery.saved or {}
        self.targets = {symbol: float(value) for symbol, value in saved.get("targets", {}).items()}
        self._pending = {symbol: float(value) for symbol, value in saved.get("pending", {}).items()}


class _History:
    """The last ``size`` candles of a symbol, as the candles and as float64 columns (ts, open,
    high, low, close, volume), kept in buffers twice that long so that keeping a candle is no
    copy; beside them the running sums of the closes, so a moving average of closes is two
    subtractions whatever its length. Candles are written to the columns only when a column is
    read: a strategy that reads only averages (deciding on every candle of a backtest) pays for
    no rows at all."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._capacity = 2 * size
        self._candles: list[CandleLike] = []  # the buffer's candles, oldest first
        self._rows = np.empty((2 * size, 6))
        self._written = 0  # the first _written candles are in _rows
        self._sums = [0.0] * (2 * size + 1)  # _sums[j]: the closes of the buffer's first j candles
        self._count = 0

    def append(self, candle: CandleLike) -> None:
        count, sums = self._count, self._sums
        if count == self._capacity:
            # keep the last size - 1; the sums restart from the first kept candle, so they stay
            # as small (and as exact) as 2 * size closes
            keep = self.size - 1
            dropped = count - keep
            del self._candles[:dropped]
            written = self._written - dropped
            if written > 0:
                self._rows[:written] = self._rows[dropped:self._written]
            self._written = max(written, 0)
            base = sums[dropped]
            sums[:keep + 1] = [total - base for total in sums[dropped:count + 1]]
            count = keep
        self._candles.append(candle)
        sums[count + 1] = sums[count] + candle.close
        self._count = count + 1

    def __len__(self) -> int:
        count = self._count
        return count if count < self.size else self.size

    def close_means(self, period: int) -> tuple[float, float]:
        """``close_mean(period, 1)`` and ``close_mean(period)``, the same floats in one call: the
        average before the latest candle and with it, as a crossover reads them at every close."""
        count = self._count
        start = count - period - 1
        if period < 1 or start < 0 or start < count - self.size:
            raise ValueError(f"a mean of {period} closes 1 candles back needs {period + 1} candles "
                             f"(there are {len(self)})")
        sums = self._sums
        return (sums[count - 1] - sums[start]) / period, (sums[count] - sums[start + 1]) / period

    def close_mean(self, period: int, back: int = 0) -> float:
        """The mean of ``period`` closes, the last of them ``back`` candles before the latest."""
        end = self._count - back
        start = end - period
        if period < 1 or back < 0 or start < 0 or start < self._count - self.size:
            raise ValueError(f"a mean of {period} closes {back} candles back needs {period + back} candles "
                             f"(there are {len(self)})")
        return (self._sums[end] - self._sums[end - period]) / period

    def column(self, k: int) -> np.ndarray:
        """A read-only view of the last ``size`` values of one column."""
        written, count = self._written, self._count
        if written < count:
            self._rows[written:count] = [(c.ts, c.open, c.high, c.low, c.close, c.volume)
                                         for c in self._candles[written:count]]
            self._written = count
        view = self._rows[max(0, self._count - self.size):self._count, k]
        view.flags.writeable = False
        return view

    @property
    def close(self) -> np.ndarray:
        return self.column(4)

    @property
    def high(self) -> np.ndarray:
        return self.column(2)

    @property
    def low(self) -> np.ndarray:
        return self.column(3)


def floor_to_lot(size: Decimal, lot: Decimal) -> Decimal:
    """Whole lots, rounded towards zero: a strategy never trades more than it can afford."""
    return (size / lot).to_integral_value(rounding=ROUND_DOWN) * lot


def as_decimal(value: float | int | str | Decimal) -> Decimal:
    """A float price as the shortest Decimal that prints the same (never binary noise)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))
