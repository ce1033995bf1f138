"""What a strategy looks like from outside: the record the Strategies screen, the gateway's stream
and `opentrade strategy list` show. Apart from ``core.strategies.runner`` because the runner
brings numpy (``core.strategies.base``), which the views and the app's first frame do not need."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.models import Signal


@dataclass(frozen=True)
class StrategyInfo:
    """A strategy as the Strategies screen and `opentrade strategy list` show it."""

    strategy_id: str
    kind: str
    state: str  # "stopped" | "running" | "error"
    venue: str
    symbols: tuple[str, ...]
    timeframe: str
    allocation_pct: float
    params: dict[str, Any]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    positions: dict[str, Decimal]
    recent_signals: tuple[Signal, ...]
    orders_sent: int
    orders_refused: int
    last_error: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees
