"""Dynamic risk (second design document, 6.2): limits that follow the market.

- Volatility: the position limit shrinks by target / realised volatility (never below
  ``min_size_factor``), from an exponentially weighted variance of the mark's log returns.
- Sentiment: while the sentiment agent reports an outside reading at least
  ``sentiment_extreme`` extreme (its ``extremity`` input: 0 for a fear-and-greed index of 50,
  0.8 at 25 or 75, 1 at 0 or 100), the limit is cut to ``sentiment_size_factor``.
- Macro events: during a window around each event of a calendar file, orders that add exposure
  are refused; reducing orders still pass.

``size_factor`` is what strategies multiply their sizing by; ``screen`` refuses, with a reason,
orders that add exposure beyond the cut limit. An order is never resized silently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from core.config import DynamicRiskConfig, RiskConfig
from core.events import AgentDecision, Event, EventBus, TickerUpdated
from core.models import Instrument, OrderRequest
from core.portfolio import Portfolio
from core.ports import Clock
from core.risk.exposure import projected_size
from core.risk.rules import money, pct
from core.working import WorkingOrders

SECONDS_PER_YEAR = 365 * 86_400
VOLATILITY_TAU_S = 900.0
MIN_SAMPLES = 30
SAMPLE_MS = 60_000


class CalendarError(ValueError):
    """A macro calendar file that cannot be used, worded for the person who keeps it."""


@dataclass(frozen=True)
class MacroEvent:
    name: str
    start_ms: int
    end_ms: int


def _timestamp(value: Any, where: str) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise CalendarError(f"{where}: time {value!r} is not ISO 8601 like 2026-01-28T19:00:00Z") from None
        return _timestamp(moment, where)
    raise CalendarError(f"{where}: time must be an ISO 8601 string, got {value!r}")


def _minutes(entry: dict[str, Any], key: str, default: float, where: str) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10_080:
        raise CalendarError(f"{where}: {key} must be a number of minutes between 0 and 10080, got {value!r}")
    return int(value * 60_000)


def load_calendar(path: Path) -> list[MacroEvent]:
    """Events from a YAML or JSON list of {name, time, before_minutes=30, after_minutes=60}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarError(f"{path}: cannot read the macro calendar: {exc.strerror}") from None
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path}: not valid {'JSON' if str(path).endswith('.json') else 'YAML'}: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise CalendarError(f"{path}: the calendar must be a list of events")
    events = []
    for index, entry in enumerate(data, start=1):
        where = f"{path}: event {index}"
        if not isinstance(entry, dict):
            raise CalendarError(f"{where}: must be a mapping with name and time")
        unknown = set(entry) - {"name", "time", "before_minutes", "after_minutes"}
        if unknown:
            raise CalendarError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise CalendarError(f"{where}: needs a name")
        at = _timestamp(entry.get("time"), where)
        events.append(MacroEvent(name, at - _minutes(entry, "before_minutes", 30, where),
                                 at + _minutes(entry, "after_minutes", 60, where)))
    return sorted(events, key=lambda e: e.start_ms)


class _Volatility:
    """Exponentially weighted per-second variance of log returns, weighted by elapsed time.

    Returns are taken at least ``SAMPLE_MS`` apart: tick-to-tick returns carry the bid/ask
    bounce and would overstate volatility several times over."""

    def __init__(self) -> None:
        self.last: tuple[int, float] | None = None
        self.variance = 0.0
        self.samples = 0

    def add(self, ts: int, price: float) -> None:
        if self.last is not None and ts - self.last[0] < SAMPLE_MS:
            return
        if self.last is not None and price > 0:
            dt = (ts - self.last[0]) / 1000
            inst = math.log(price / self.last[1]) ** 2 / dt
            alpha = 1 - math.exp(-dt / VOLATILITY_TAU_S)
            self.variance = inst if self.samples == 0 else self.variance + alpha * (inst - self.variance)
            self.samples += 1
        if price > 0 and (self.last is None or ts > self.last[0]):
            self.last = (ts, price)

    @property
    def annualised(self) -> float | None:
        return math.sqrt(self.variance * SECONDS_PER_YEAR) if self.samples >= MIN_SAMPLES else None


class DynamicRisk:
    def __init__(
        self,
        config: DynamicRiskConfig,
        risk: RiskConfig,
        portfolio: Portfolio,
        bus: EventBus,
        clock: Clock,
    ) -> None:
        self._config = config
        self._risk = risk
        self._portfolio = portfolio
        self._clock = clock
        self._volatility: dict[tuple[str, str], _Volatility] = {}
        self._sentiment: dict[str, tuple[float, int]] = {}
        self.calendar = load_calendar(config.macro_calendar) if config.macro_calendar is not None else []
        if config.enabled:
            bus.add_listener((TickerUpdated,), self._on_ticker)
            bus.add_listener((AgentDecision,), self._on_decision)

    def _on_ticker(self, event: Event) -> None:
        assert isinstance(event, TickerUpdated)
        ticker = event.ticker
        price = ticker.mark if ticker.mark is not None else ticker.last
        if price is not None:
            key = (ticker.venue, ticker.symbol)
            self._volatility.setdefault(key, _Volatility()).add(self._clock.now_ms(), float(price))

    def _on_decision(self, event: Event) -> None:
        assert isinstance(event, AgentDecision)
        for opinion in event.opinions:
            level = opinion.inputs.get("extremity")
            if opinion.agent == "sentiment" and opinion.has_data and isinstance(level, int | float):
                self._sentiment[event.symbol] = (float(level), self._clock.now_ms())

    def volatility(self, venue: str, symbol: str) -> float | None:
        tracker = self._volatility.get((venue, symbol))
        return tracker.annualised if tracker is not None else None

    def sentiment_extreme(self, symbol: str) -> bool:
        reading = self._sentiment.get(symbol)
        if reading is None:
            return False
        level, seen = reading
        fresh = self._clock.now_ms() - seen <= self._config.sentiment_max_age * 1000
        return fresh and level >= self._config.sentiment_extreme

    def size_factor(self, venue: str, symbol: str) -> tuple[float, str | None]:
        """(share of the normal position limit, why it is cut or None) for new exposure."""
        if not self._config.enabled:
            return 1.0, None
        factor, why = 1.0, None
        vol = self.volatility(venue, symbol)
        if vol is not None and vol > self._config.target_volatility:
            factor = max(self._config.target_volatility / vol, self._config.min_size_factor)
            why = f"volatility {pct(vol)} is above the {pct(self._config.target_volatility)} target"
        if self.sentiment_extreme(symbol) and self._config.sentiment_size_factor < factor:
            factor, why = self._config.sentiment_size_factor, "sentiment is extreme"
        return factor, why

    def macro_pause(self) -> tuple[str, str] | None:
        """(reason, rule) while a macro event pauses new positions."""
        event = self.macro_event() if self._config.enabled else None
        if event is None:
            return None
        until = datetime.fromtimestamp(event.end_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (f"new positions are paused around the macro event '{event.name}' until {until}; "
                "orders that reduce a position still pass", "macro_event")

    def macro_event(self, now: int | None = None) -> MacroEvent | None:
        if not self.calendar:  # every order adding exposure asks
            return None
        moment = self._clock.now_ms() if now is None else now
        return next((e for e in self.calendar if e.start_ms <= moment < e.end_ms), None)

    def screen(
        self, request: OrderRequest, instrument: Instrument, price: Decimal | None, working: WorkingOrders, *,
        reduces: bool,
    ) -> tuple[str, str] | None:
        """(reason, rule) for an order that adds exposure while a macro event pauses new
        positions, or beyond the limit (working orders on its side included) as cut by
        volatility or sentiment. ``reduces``: the order can only shrink its position
        (``core.risk.exposure.only_reduces``, which the gate has worked out)."""
        if not self._config.enabled or reduces:
            return None
        paused = self.macro_pause()
        if paused is not None:
            return paused
        factor, why = self.size_factor(request.venue, request.symbol)
        if why is None or price is None:
            return None
        position = self._portfolio.position(request.venue, request.symbol)
        equity = self._portfolio.equity()
        limit = min(self._risk.max_position_size, equity * Decimal(str(self._risk.max_position_pct)))
        cut = limit * Decimal(str(factor))
        projected = projected_size(position, request, working) * price * instrument.contract_size
        if projected > cut:
            quote = self._portfolio.quote_currency
            return (f"{why}, so the {request.symbol} position limit is cut to {pct(factor)} of "
                    f"{money(limit, quote)} = {money(cut, quote)}; this order would take it to "
                    f"{money(projected, quote)}", "dynamic_size")
        return None
