"""Plugins: the venues, strategies, agents and data providers installed packages add, found
through Python entry points, as pytest and Textual's ecosystem find theirs.

One entry-point group per kind (``GROUPS``). OpenTrade's own venues, strategies, agents and
data providers are registered under the same groups in its pyproject.toml, so a built-in and a
third-party plugin are found, loaded, checked, listed and turned off by the same code.

Names come from the installed packages' metadata alone (a few milliseconds); a plugin's module
is imported the first time something asks for that plugin, so the first frame waits only for
what the configuration uses. A plugin that cannot be used (its import fails, it is not the
kind of object its group holds, a strategy's declared parameters fail their own checks, or two
packages register the same name) is logged once, listed with its error by ``opentrade plugin
list``, and skipped by whoever asked for every plugin of its kind.

Which plugins are turned off is kept per home, in ``plugins.json`` (``opentrade plugin disable
NAME`` writes it): a home is one trader's setup, with its own database and configuration,
while the packages are shared by every home of the Python environment. The command line names
the home (``use_home``); elsewhere (tests, an embedding program) it is the one
``$OPENTRADE_HOME`` names. This module imports nothing of the project but the configuration:
loading an entry point by name is not an import of ours, so the registry may live in the core.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import ConfigError, resolve_home
from core.filemodes import write_private_text

if TYPE_CHECKING:
    from core.config import AppConfig
    from core.ports import Clock

log = logging.getLogger(__name__)

GROUPS: dict[str, str] = {
    "venue": "opentrade.venues",
    "strategy": "opentrade.strategies",
    "agent": "opentrade.agents",
    "data_provider": "opentrade.data_providers",
}
PROJECT = "opentrade-terminal"
STATE_FILE = "plugins.json"

# A check of a loaded object, given the plugin's name: the problem with it, worded for a person, or None.
Check = Callable[[str, Any], str | None]


def factory_problem(name: str, loaded: Any) -> str | None:
    """The check of a venue, agent or data provider plugin: its entry point is a factory."""
    return None if callable(loaded) else f"it is {type(loaded).__name__} {loaded!r:.60}, not a factory (a callable)"


@dataclass(frozen=True)
class VenueSpec:
    """What a venue plugin's factory is called with, ``factory(spec)``, to build one configured
    venue; it returns an ``ExchangeAdapter`` (core.ports). The entry point of an
    ``opentrade.venues`` plugin is that factory.

    ``settings`` is the venue's section of the configuration: ``PaperVenueConfig`` and
    ``CcxtVenueConfig`` for the built-ins, a ``PluginVenueConfig`` for the others (``mode``,
    ``markets`` and the plugin's own keys in ``options``, for the plugin to check)."""

    name: str
    settings: Any
    config: AppConfig
    home: Path
    clock: Clock
    seed: int | None = None  # asked for on the command line, for a simulated market
    history: Mapping[str, int] = field(default_factory=dict)  # candles per timeframe the agents read at start


class PluginError(ValueError):
    """A plugin that cannot be used, worded for the person who has to act on it."""


class UnknownPlugin(PluginError):
    """No installed package registers this name for this kind."""


class DisabledPlugin(PluginError):
    """Turned off in this home with ``opentrade plugin disable``."""


class BrokenPlugin(PluginError):
    """Installed and enabled, but it cannot be loaded or is not what its group holds."""


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them (Foo_Bar and foo-bar are one package)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Plugin:
    """One registered entry point, from the package metadata alone (nothing imported)."""

    kind: str
    name: str
    target: str  # "module:attribute"
    package: str
    version: str
    conflict: str | None = None  # set when another package registers the same name

    @property
    def builtin(self) -> bool:
        return normalized(self.package) == PROJECT

    @property
    def origin(self) -> str:
        return "built in" if self.builtin else f"from {self.package} {self.version}"

    def describe(self) -> str:
        return f"{self.kind.replace('_', ' ')} '{self.name}' ({self.origin})"


class Plugins:
    """What is installed (found once per process, or again after ``refresh``), what is loaded
    and what failed; the disabled set is read from the home's file each time it is needed, so
    a change made by another command is seen."""

    def __init__(self) -> None:
        self.home: Path | None = None
        self._found: dict[str, list[Plugin]] = {}
        self._loaded: dict[tuple[str, str], Any] = {}
        self._errors: dict[tuple[str, str], str] = {}

    # ----- what is installed ------------------------------------------------------------------

    def found(self, kind: str) -> list[Plugin]:
        """Every entry point of the kind's group: the built-ins first, then the others by
        package and name."""
        if kind not in self._found:
            self._found[kind] = _discover(kind)
        return self._found[kind]

    def get(self, kind: str, name: str) -> Plugin | None:
        """The plugin a name stands for: the built-in one when a package reuses its name."""
        return next((p for p in self.found(kind) if p.name == name), None)

    def names(self, kind: str) -> list[str]:
        """The names that may be used: enabled and registered by one package only (not imported)."""
        disabled = self.disabled().get(kind, set())
        return [p.name for p in self.found(kind) if p.conflict is None and p.name not in disabled]

    def refresh(self) -> None:
        """Forget what was found, loaded and failed (after a package was installed or removed)."""
        self._found.clear()
        self._loaded.clear()
        self._errors.clear()

    # ----- loading ----------------------------------------------------------------------------

    def load(self, kind: str, name: str, check: Check) -> Any:
        """The plugin's object, imported once and checked; UnknownPlugin, DisabledPlugin or
        BrokenPlugin with the reason otherwise (a failure is logged the first time only)."""
        plugin = self.get(kind, name)
        if plugin is None:
            raise UnknownPlugin(f"no {kind.replace('_', ' ')} '{name}' is installed (installed: {', '.join(self.names(kind)) or 'none'})")
        if name in self.disabled().get(kind, set()):
            raise DisabledPlugin(
                f"the {plugin.describe()} is disabled in {self.state_path()}: enable it with 'opentrade plugin enable {name}'"
            )
        key = (kind, name)
        if key in self._loaded:
            return self._loaded[key]
        if key not in self._errors:
            self._errors[key] = self._try_load(plugin, check) or ""
            if self._errors[key]:
                log.error("%s is broken and skipped: %s", plugin.describe(), self._errors[key])
        if self._errors[key]:
            raise BrokenPlugin(f"the {plugin.describe()} cannot be used: {self._errors[key]}")
        return self._loaded[key]

    def _try_load(self, plugin: Plugin, check: Check) -> str | None:
        if plugin.conflict is not None:
            return plugin.conflict
        # Whatever a third party's import or class raises is its error to report, not ours to crash on.
        try:
            loaded = EntryPoint(plugin.name, plugin.target, GROUPS[plugin.kind]).load()
        except Exception as exc:  # noqa: BLE001
            return f"loading {plugin.target} failed: {type(exc).__name__}: {exc}"
        try:
            problem = check(plugin.name, loaded)
        except Exception as exc:  # noqa: BLE001
            return f"checking {plugin.target} failed: {type(exc).__name__}: {exc}"
        if problem:
            return problem
        self._loaded[(plugin.kind, plugin.name)] = loaded
        return None

    def load_all(self, kind: str, check: Check) -> dict[str, Any]:
        """Every enabled plugin of the kind that loads and passes the check, by name; the broken
        ones are logged (once) and left out."""
        loaded = {}
        for name in self.names(kind):
            try:
                loaded[name] = self.load(kind, name, check)
            except BrokenPlugin:
                continue
        return loaded

    def error(self, kind: str, name: str) -> str | None:
        """Why the plugin could not be used, once something tried to load it."""
        return self._errors.get((kind, name)) or None

    def failures(self) -> list[str]:
        """Every plugin that failed to load so far, one sentence each."""
        failed = []
        for (kind, name), error in self._errors.items():
            plugin = self.get(kind, name)
            if error and plugin is not None:
                failed.append(f"{plugin.describe()}: {error}")
        return failed

    # ----- turned off in this home -----------------------------------------------------------

    def state_path(self) -> Path:
        return (self.home or resolve_home(None)) / STATE_FILE

    def disabled(self) -> dict[str, set[str]]:
        """The names turned off in this home, by kind."""
        path = self.state_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (fix it, or delete it to enable every plugin)"]) from None
        return _disabled_from(document, path)

    def set_enabled(self, plugin: Plugin, enabled: bool) -> bool:
        """Turn the plugin on or off in this home; False when it already was."""
        disabled = self.disabled()
        names = disabled.setdefault(plugin.kind, set())
        if (plugin.name not in names) == enabled:
            return False
        if enabled:
            names.discard(plugin.name)
        else:
            names.add(plugin.name)
        document = {"disabled": {kind: sorted(names) for kind, names in sorted(disabled.items()) if names}}
        path = self.state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_text(path, json.dumps(document, indent=2) + "\n")
        return True


def _disabled_from(document: Any, path: Path) -> dict[str, set[str]]:
    shape = f'{{"disabled": {{"strategy": ["name", ...]}}}} with kinds among {", ".join(GROUPS)}'
    disabled = document.get("disabled", {}) if isinstance(document, Mapping) else None
    if not isinstance(disabled, Mapping) or not all(
        kind in GROUPS and isinstance(names, list) and all(isinstance(n, str) for n in names)
        for kind, names in disabled.items()
    ):
        raise ConfigError([f"{path}: expected {shape} (fix it, or delete it to enable every plugin)"])
    return {kind: set(names) for kind, names in disabled.items()}


def _discover(kind: str) -> list[Plugin]:
    group = GROUPS[kind]
    plugins = [_plugin(kind, point) for point in entry_points(group=group)]
    if not any(p.builtin for p in plugins):
        raise PluginError(
            f"OpenTrade's installed metadata registers no {group} entry points: the installation is out of date; "
            "reinstall it (pip install -e . in a source checkout, else pip install --force-reinstall opentrade-terminal)"
        )
    builtin = [p for p in plugins if p.builtin]
    others = sorted((p for p in plugins if not p.builtin), key=lambda p: (normalized(p.package), p.name))
    by_name: dict[str, list[Plugin]] = {}
    for plugin in [*builtin, *others]:
        by_name.setdefault(plugin.name, []).append(plugin)
    return [_with_conflict(plugin, by_name[plugin.name]) for plugin in [*builtin, *others]]


def _plugin(kind: str, point: EntryPoint) -> Plugin:
    dist = point.dist
    return Plugin(kind, point.name, point.value, dist.name if dist else "unknown", dist.version if dist else "?")


def _with_conflict(plugin: Plugin, same_name: list[Plugin]) -> Plugin:
    """A built-in keeps its name (a package cannot replace one unseen); two other packages
    registering one name are both refused, since neither is the obvious one."""
    others = [p for p in same_name if p is not plugin]
    if not others or plugin.builtin:
        return plugin
    holders = " and ".join(f"{p.package} {p.version}" for p in same_name)
    if any(p.builtin for p in others):
        kind = plugin.kind.replace("_", " ")
        conflict = f"the name '{plugin.name}' belongs to OpenTrade's built-in {kind}; rename it in {plugin.package}"
    else:
        conflict = f"the name '{plugin.name}' is registered by {holders}: uninstall one of them"
    return Plugin(plugin.kind, plugin.name, plugin.target, plugin.package, plugin.version, conflict)


_registry = Plugins()


def registry() -> Plugins:
    """The process's plugins: entry points are installed per Python environment."""
    return _registry


@contextmanager
def use_home(home: Path) -> Iterator[Plugins]:
    """Read which plugins are turned off from ``home`` while a command runs."""
    previous, _registry.home = _registry.home, home
    try:
        yield _registry
    finally:
        _registry.home = previous
