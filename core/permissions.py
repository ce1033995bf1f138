"""Permission levels, enforced by the engine rather than only hidden in the interface.

read_only watches; trade places and cancels orders (by hand and through strategies) within the
limits; admin also changes limits, switches a venue to live and resets breakers. The engine's
own protective actions (risk, reconciliation, breakers) act for the system and need no level:
a halt must be able to flatten positions even under a read-only profile.
"""

from __future__ import annotations

from enum import IntEnum

from core.config import PermissionsConfig

SYSTEM_ACTORS = frozenset({"risk", "reconcile", "engine", "breaker"})


class Level(IntEnum):
    READ_ONLY = 0
    TRADE = 1
    ADMIN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class PermissionDenied(Exception):
    """An action above the profile's level; ``reason`` says what level it needs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Permissions:
    def __init__(self, config: PermissionsConfig) -> None:
        self.profile = config.profile
        self.level = Level[config.profiles[config.profile].upper()]

    def allows(self, needed: Level, actor: str = "user") -> bool:
        return actor in SYSTEM_ACTORS or self.level >= needed

    def require(self, needed: Level, action: str, actor: str = "user") -> None:
        if not self.allows(needed, actor):
            raise PermissionDenied(
                f"profile '{self.profile}' is {self.level.label}: {action} needs the {needed.label} level"
            )
