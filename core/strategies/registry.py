"""The strategy kinds by name, and building configured strategies from the YAML configuration.

A kind is an ``opentrade.strategies`` plugin (core.plugins): the built-in ones and any an
installed package registers, found and checked the same way, so a plugin's strategy gets the
same parameter checks, backtests, evolution and Strategies screen rows. A configured
strategy's key is its id; its ``kind`` names the class (the id itself when ``kind`` is left
out, as for the design document's ``ai_trend_following``). Keys beyond the common ones are its
parameters, checked here against what the class declares.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.config import AppConfig, StrategyConfig, margin_venues
from core.plugins import BrokenPlugin, PluginError, registry
from core.strategies.base import Param, ParameterError, Strategy

if TYPE_CHECKING:  # the runner brings the event bus and storage: a backtest needs neither
    from core.strategies.runner import StrategyContext, StrategyEngine

log = logging.getLogger(__name__)


class UnknownStrategy(ParameterError):
    """A strategy kind no enabled plugin provides."""


class BrokenStrategy(ParameterError):
    """A strategy plugin that cannot be loaded or whose class fails its own declarations."""


def class_problem(kind: str, loaded: Any) -> str | None:
    """Why a plugin's object cannot be a strategy of this kind, or None: a Strategy subclass
    named as registered, its declared parameters distinct, each default within its own bounds
    and the defaults passing the class's cross-checks (what every configuration is checked
    against must itself hold)."""
    if not (isinstance(loaded, type) and issubclass(loaded, Strategy)):
        return f"it is {type(loaded).__name__} {loaded!r:.60}, not a subclass of core.strategies.base.Strategy"
    if loaded.name != kind:
        return f"its class {loaded.__name__} is named '{loaded.name}', but it is registered as '{kind}'"
    declared = loaded.parameters
    if not isinstance(declared, tuple) or not all(isinstance(p, Param) for p in declared):
        return f"{loaded.__name__}.parameters must be a tuple of core.strategies.base.Param"
    names = [p.name for p in declared]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return f"{loaded.__name__} declares parameter(s) {', '.join(repeated)} more than once"
    try:
        for param in declared:
            if param.coerce(param.default, kind) != param.default:
                return f"the default of parameter '{param.name}' ({param.default!r}) is not a {param.kind.__name__}"
        loaded.validate_params({})
    except ParameterError as exc:
        return f"its declared defaults fail its own checks: {exc}"
    return None


def strategy_class(kind: str) -> type[Strategy]:
    """The class of a strategy kind, its module imported the first time it is asked for."""
    try:
        found: type[Strategy] = registry().load("strategy", kind, class_problem)
    except BrokenPlugin as exc:
        raise BrokenStrategy(str(exc)) from None
    except PluginError as exc:
        known = ", ".join(sorted(strategy_kinds()))
        raise UnknownStrategy(f"unknown strategy '{kind}' (known: {known})" if registry().get("strategy", kind) is None
                              else str(exc)) from None
    return found


def strategy_kinds() -> list[str]:
    """The names of the enabled strategy kinds, from the package metadata (nothing imported)."""
    return registry().names("strategy")


def strategy_classes() -> dict[str, type[Strategy]]:
    """Every enabled strategy kind that loads, by name (a broken one is logged and left out)."""
    classes: dict[str, type[Strategy]] = registry().load_all("strategy", class_problem)
    return classes


def kind_of(strategy_id: str, config: StrategyConfig) -> str:
    return config.kind or strategy_id


def build(strategy_id: str, config: StrategyConfig) -> Strategy:
    """The strategy a configuration entry describes, its parameters checked."""
    kind = kind_of(strategy_id, config)
    try:
        cls = strategy_class(kind)
        return cls(config.params, strategy_id=strategy_id)
    except ParameterError as exc:
        if strategy_id == kind:
            raise
        raise type(exc)(f"{exc} (configured as '{strategy_id}')") from None


def check_configs(configs: Mapping[str, StrategyConfig]) -> list[str]:
    """Every problem in the configured strategies, for `opentrade config check` and start-up."""
    problems = []
    for strategy_id, config in configs.items():
        try:
            build(strategy_id, config)
        except ParameterError as exc:
            problems.append(str(exc))
    return problems


def short_warnings(config: AppConfig) -> list[str]:
    """Strategies set to sell short on spot markets of venues without margin, where they go flat
    instead, for `opentrade config validate` (a warning: the file is valid)."""
    warnings = []
    for strategy_id, strategy in config.strategies.items():
        if strategy.venue in margin_venues(config):
            continue
        try:
            cls = strategy_class(kind_of(strategy_id, strategy))
            params = cls.validate_params(strategy.params)
        except ParameterError:
            continue  # reported as a problem by check_configs
        spot = [symbol for symbol in cls.short_symbols(params, strategy.symbols) if ":" not in symbol]
        if not spot:
            continue
        if "allow_short" in params:
            setting, fix = "allow_short is true", "set allow_short: false to trade long only"
        else:
            quote = spot[0].split("/")[1]
            setting, fix = f"{cls.name} sells short", f"trade a perpetual ({spot[0]}:{quote}) to short"
        markets = "is a spot market" if len(spot) == 1 else "are spot markets"
        warnings.append(
            f"strategy '{strategy_id}': {setting}, but {', '.join(spot)} on venue '{strategy.venue}' {markets} "
            f"without margin: it goes flat where it would go short ({fix}, or set margin: true on a ccxt venue "
            "whose account borrows)"
        )
    return warnings


def load(engine: StrategyEngine, configs: Mapping[str, StrategyConfig]) -> list[StrategyContext]:
    """Add every configured strategy to the engine (stopped); start the enabled ones with
    ``engine.start(id)``. Raises ParameterError naming the first bad entry. A strategy whose
    plugin is broken is left out with an error in the log: the app still starts, so the other
    strategies run and open positions can be closed."""
    contexts = []
    for strategy_id, config in configs.items():
        try:
            strategy = build(strategy_id, config)
        except BrokenStrategy as exc:
            log.error("strategy %s is not loaded: %s", strategy_id, exc)
            continue
        contexts.append(engine.add(
            strategy, venue=config.venue, symbols=config.symbols, timeframe=config.timeframe,
            allocation_pct=config.allocation_pct,
        ))
    return contexts


def resolve(name: str, configs: Mapping[str, StrategyConfig]) -> tuple[type[Strategy], dict[str, Any], StrategyConfig | None]:
    """A configured strategy id (its class and configured parameters), else a strategy kind
    (its class and no parameters, so the defaults)."""
    config = configs.get(name)
    if config is not None:
        return strategy_class(kind_of(name, config)), dict(config.params), config
    if registry().get("strategy", name) is not None:
        return strategy_class(name), {}, None
    raise UnknownStrategy(
        f"unknown strategy '{name}': not a configured strategy ({', '.join(configs) or 'none'}) "
        f"nor a strategy kind ({', '.join(sorted(strategy_kinds()))})"
    )


def effective_params(configured: Mapping[str, Any], versions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters a strategy runs with: its newest stored version (set from the TUI, the
    command line or the daily review) over the configuration file's."""
    return dict(versions[-1]["params"]) if versions else dict(configured)
