"""Builds the agent team and its coordinator from the ``agents`` section of the configuration.

Every analyst is an ``opentrade.agents`` plugin (core.plugins): a factory given the ``agents``
section that returns the agent (an ``agents.base.Agent`` named as the plugin), or None when the
section leaves it off (the LLM agent until ``llm.enabled``). The built-in factories are here;
an installed package's agents join the team the same way, with the weight ``agents.weights``
gives them (none: they are on the Agents screen but do not vote). Data sources are
``opentrade.data_providers`` plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agents.base import Agent
from agents.coordinator import AGENT_ORDER, Coordinator, FusionSettings
from agents.forecast import ForecastAgent
from agents.forecast_model import ForecastUnavailable
from agents.kronos import KronosSettings, load_kronos
from agents.llm import LLMAgent
from agents.macro import MacroAgent
from agents.market import MarketAgent
from agents.onchain import OnChainAgent
from agents.providers import DataProvider, UnavailableProvider
from agents.risk_agent import RiskAgent
from agents.sentiment import SentimentAgent
from agents.strategy_agent import StrategyAgent
from core.config import AgentsConfig, AgentSourceConfig
from core.events import EventBus
from core.plugins import BrokenPlugin, Plugin, factory_problem, registry
from core.ports import Clock

log = logging.getLogger(__name__)

AgentFactory = Callable[[AgentsConfig], Agent | None]
ProviderFactory = Callable[[AgentSourceConfig, str], DataProvider]


def build_provider(name: str, source: AgentSourceConfig | None) -> DataProvider | None:
    """The source's data provider plugin, given the source and a label for messages. One that
    is not installed or is disabled refuses the configuration (a ValueError naming it); a broken
    one leaves the agent saying "no data" with the plugin's error."""
    if source is None:
        return None
    label = f"{name} {'file' if source.provider_name == 'file_json' else 'source'}"
    try:
        factory: ProviderFactory = registry().load("data_provider", source.provider_name, factory_problem)
    except BrokenPlugin as exc:
        return UnavailableProvider(label, str(exc))
    return factory(source, label)


def market_agent(config: AgentsConfig) -> Agent:
    return MarketAgent()


def strategy_agent(config: AgentsConfig) -> Agent:
    return StrategyAgent()


def onchain_agent(config: AgentsConfig) -> Agent:
    return OnChainAgent(build_provider("onchain", config.onchain), _max_age_ms(config.onchain))


def sentiment_agent(config: AgentsConfig) -> Agent:
    return SentimentAgent(build_provider("sentiment", config.sentiment), _max_age_ms(config.sentiment))


def macro_agent(config: AgentsConfig) -> Agent:
    return MacroAgent(build_provider("macro", config.macro), _max_age_ms(config.macro))


def llm_agent(config: AgentsConfig) -> Agent | None:
    if not config.llm.enabled:
        return None
    return LLMAgent(config.llm.url, config.llm.model, config.llm.api_key_env, config.llm.timeout)


def build_forecast_agent(config: AgentsConfig) -> ForecastAgent:
    """Kronos when configured and loadable; otherwise the built-in model, saying why."""
    if not config.kronos.enabled:
        return ForecastAgent(horizon=config.forecast_horizon)
    settings = KronosSettings(
        model_path=config.kronos.model_path,
        tokenizer_path=config.kronos.tokenizer_path,
        module=config.kronos.module,
        device=config.kronos.device,
    )
    try:
        kronos = load_kronos(settings)
    except ForecastUnavailable as exc:
        log.warning("Kronos forecast backend %s; using the built-in ridge model", exc)
        return ForecastAgent(horizon=config.forecast_horizon, note=f"Kronos {exc}; built-in model used")
    return ForecastAgent(horizon=config.forecast_horizon, model_factory=lambda: kronos)


def build_analysts(config: AgentsConfig) -> list[Agent]:
    """Every enabled agent plugin's agent, the built-ins in their usual order, then the others
    by name. A broken plugin, or another package's factory that fails or answers with something
    that is not its agent, is logged and left out: the team runs without it."""
    factories: dict[str, AgentFactory] = registry().load_all("agent", factory_problem)
    team = []
    for name in sorted(factories, key=lambda n: (AGENT_ORDER.index(n) if n in AGENT_ORDER else len(AGENT_ORDER), n)):
        plugin = registry().get("agent", name)
        if plugin is not None and not plugin.builtin:
            agent = _third_party_agent(plugin, factories[name], config)
        else:
            agent = factories[name](config)
        if agent is not None:
            team.append(agent)
    return team


def _third_party_agent(plugin: Plugin, factory: AgentFactory, config: AgentsConfig) -> Agent | None:
    try:
        agent = factory(config)
    except Exception as exc:  # noqa: BLE001 - another package's failure, reported as such
        log.error("%s is left out of the team: its factory failed: %s: %s", plugin.describe(), type(exc).__name__, exc)
        return None
    if agent is not None and (not isinstance(agent, Agent) or agent.name != plugin.name):
        log.error("%s is left out of the team: its factory gave %r, not an agents.base.Agent named '%s'",
                  plugin.describe(), agent, plugin.name)
        return None
    return agent


def build_coordinator(config: AgentsConfig, clock: Clock, bus: EventBus | None = None) -> Coordinator:
    settings = FusionSettings(
        weights=dict(config.weights),
        threshold=config.threshold,
        stop_atr=config.stop_atr,
        take_profit_atr=config.take_profit_atr,
        timeout_s=config.timeout,
    )
    risk = RiskAgent(target_volatility=config.target_volatility, kelly_fraction=config.kelly_fraction)
    return Coordinator(build_analysts(config), risk, clock, settings, bus=bus)


def _max_age_ms(source: AgentSourceConfig | None) -> int:
    return int((source.max_age if source is not None else 21600) * 1000)
