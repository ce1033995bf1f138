"""Permission levels, enforced by the engine rather than only hidden in the interface.

read_only watches; trade places and cancels orders (by hand and through strategies) within the
limits; admin also changes limits, switches a venue to live and resets breakers. The engine's
own protective actions (risk, reconciliation, breakers) act for the system and need no level:
a halt must be able to flatten positions even under a read-only profile.

The configured profile is the level of whoever sits at the keyboard. An ``Actor`` carries a
level of its own (an API token's holder): it gets the lower of its own level and the profile's,
so a token never does more than it was created for, nor more than the profile allows.
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

    @classmethod
    def of(cls, label: str) -> Level:
        """``read_only`` -> READ_ONLY; ValueError naming the levels for anything else."""
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown level '{label}': use one of {', '.join(level.label for level in cls)}") from None


class Actor(str):
    """An actor name (``api:bot``) that carries its own level.

    It is still the plain name everywhere an actor is stored or shown (audit entries, order
    events): only the permission check reads the level. ``holder`` is how a refusal names it."""

    level: Level
    holder: str

    def __new__(cls, name: str, level: Level, holder: str | None = None) -> Actor:
        actor = super().__new__(cls, name)
        actor.level = level
        actor.holder = holder or name
        return actor


class PermissionDenied(Exception):
    """An action above the profile's level; ``reason`` says what level it needs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Permissions:
    def __init__(self, config: PermissionsConfig) -> None:
        self.profile = config.profile
        self.level = Level[config.profiles[config.profile].upper()]

    def level_of(self, actor: str) -> Level:
        return min(self.level, actor.level) if isinstance(actor, Actor) else self.level

    def allows(self, needed: Level, actor: str = "user") -> bool:
        if not isinstance(actor, Actor) and actor in SYSTEM_ACTORS:
            return True
        return self.level_of(actor) >= needed

    def require(self, needed: Level, action: str, actor: str = "user") -> None:
        if self.allows(needed, actor):
            return
        if isinstance(actor, Actor) and actor.level < needed:
            raise PermissionDenied(f"{actor.holder} is {actor.level.label}: {action} needs the {needed.label} level")
        raise PermissionDenied(f"profile '{self.profile}' is {self.level.label}: {action} needs the {needed.label} level")
