"""The Log / Audit screen's filter: ``kind:order symbol:BTC/USDT strategy:grid some text``.

Field tokens narrow by the audit entry's kind, symbol, strategy or actor; the other words must
all appear somewhere in the entry. Kept apart from the screen so it is tested without a UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FIELDS = ("kind", "symbol", "strategy", "actor")


@dataclass(frozen=True)
class AuditFilter:
    fields: dict[str, str] = field(default_factory=dict)
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AuditFilter:
        fields: dict[str, str] = {}
        words: list[str] = []
        for token in text.split():
            name, sep, value = token.partition(":")
            if sep and name.lower() in FIELDS and value:
                fields[name.lower()] = value.lower()
            else:
                words.append(token.lower())
        return cls(fields, tuple(words))

    def matches_entry(self, kind: str, actor: str, payload: Mapping[str, Any], text: str) -> bool:
        strategy = str(payload.get("strategy_id") or (actor[len("strategy:"):] if actor.startswith("strategy:") else ""))
        values = {"kind": kind, "symbol": str(payload.get("symbol") or ""), "strategy": strategy, "actor": actor}
        for name, wanted in self.fields.items():
            if wanted not in values[name].lower():
                return False
        haystack = " ".join((kind, actor, text)).lower()
        return all(word in haystack for word in self.words)

    def matches_text(self, *parts: str) -> bool:
        """For application log lines, which have no fields: every token is plain text."""
        haystack = " ".join(parts).lower()
        tokens = [*self.words, *(f"{v}" for v in self.fields.values())]
        return all(token in haystack for token in tokens)
