"""Markets on disk, so that starting the app does not download every market of an exchange
each time (Binance's exchangeInfo is several megabytes), and so that it starts when the
exchange is slow. Entries older than the configured age are ignored, then replaced."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from core.filemodes import private_dir, write_private_text
from core.ports import Clock

log = logging.getLogger(__name__)

FORMAT = 1


class MarketsCache:
    def __init__(self, path: Path, max_age_s: float, clock: Clock) -> None:
        self.path = path
        self.max_age_ms = int(max_age_s * 1000)
        self._clock = clock

    def load(self) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        """(markets, currencies) when a fresh, readable entry exists, else None."""
        if self.max_age_ms <= 0 or not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            saved = int(data["saved_ms"])
            if data.get("format") != FORMAT:
                return None
            markets, currencies = data["markets"], data["currencies"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable markets cache %s: %s", self.path, exc)
            return None
        age = self._clock.now_ms() - saved
        if age < 0 or age > self.max_age_ms:
            return None
        return list(markets), dict(currencies)

    def save(self, markets: list[dict[str, Any]], currencies: dict[str, Any]) -> None:
        """Written beside the target then renamed: a crash never leaves half a file."""
        payload = {"format": FORMAT, "saved_ms": self._clock.now_ms(), "markets": markets, "currencies": currencies}
        private_dir(self.path.parent)
        write_private_text(self.path, json.dumps(payload, default=str))
