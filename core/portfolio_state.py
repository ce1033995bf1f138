"""What the portfolio must remember across a restart, as text for the key-value store.

Without it a restart would forget the day's losses (a fresh daily loss budget after every
crash), the high-water mark of the emergency stop, and the spot positions, which no venue
reports (a venue knows the coins, not the price they were bought at).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from core.models import ZERO, Position

VERSION = 1


class AccountingStateError(ValueError):
    """Saved accounting state that cannot be read back."""


@dataclass
class AccountingState:
    day: int
    day_start: dict[str, Decimal] = field(default_factory=dict)
    peak: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    spot_positions: list[Position] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({
            "version": VERSION,
            "day": self.day,
            "day_start": {venue: str(value) for venue, value in self.day_start.items()},
            "peak": str(self.peak),
            "realized": str(self.realized),
            "fees": str(self.fees),
            "spot_positions": [p.model_dump(mode="json") for p in self.spot_positions],
        })

    @classmethod
    def from_json(cls, text: str) -> AccountingState:
        try:
            data: Any = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
            return cls(
                day=int(data["day"]),
                day_start={str(venue): Decimal(value) for venue, value in data["day_start"].items()},
                peak=Decimal(data["peak"]),
                realized=Decimal(data["realized"]),
                fees=Decimal(data["fees"]),
                spot_positions=[Position.model_validate(p) for p in data["spot_positions"]],
            )
        except (ValueError, TypeError, KeyError, AttributeError, InvalidOperation, ValidationError) as exc:
            problem = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise AccountingStateError(f"saved portfolio state cannot be read ({problem})") from None
