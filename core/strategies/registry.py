"""The strategy kinds by name, and building configured strategies from the YAML configuration.

A configured strategy's key is its id; its ``kind`` names the class (the id itself when
``kind`` is left out, as for the design document's ``ai_trend_following``). Keys beyond the
common ones are its parameters, checked here against what the class declares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.config import AppConfig, StrategyConfig, margin_venues
from core.strategies.ai_trend import AiTrendFollowing
from core.strategies.arbitrage import BasisArbitrage, PairArbitrage
from core.strategies.base import ParameterError, Strategy
from core.strategies.grid import Grid
from core.strategies.mean_reversion import MeanReversion
from core.strategies.runner import StrategyContext, StrategyEngine
from core.strategies.sma_cross import SmaCross

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (SmaCross, AiTrendFollowing, MeanReversion, Grid, BasisArbitrage, PairArbitrage)
}


class UnknownStrategy(ParameterError):
    """A strategy kind no class implements."""


def strategy_class(kind: str) -> type[Strategy]:
    found = STRATEGIES.get(kind)
    if found is None:
        raise UnknownStrategy(f"unknown strategy '{kind}' (known: {', '.join(sorted(STRATEGIES))})")
    return found


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
    ``engine.start(id)``. Raises ParameterError naming the first bad entry."""
    contexts = []
    for strategy_id, config in configs.items():
        strategy = build(strategy_id, config)
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
    if name in STRATEGIES:
        return STRATEGIES[name], {}, None
    raise UnknownStrategy(
        f"unknown strategy '{name}': not a configured strategy ({', '.join(configs) or 'none'}) "
        f"nor a strategy kind ({', '.join(sorted(STRATEGIES))})"
    )


def effective_params(configured: Mapping[str, Any], versions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters a strategy runs with: its newest stored version (set from the TUI, the
    command line or the daily review) over the configuration file's."""
    return dict(versions[-1]["params"]) if versions else dict(configured)
