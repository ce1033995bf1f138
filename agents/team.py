"""Builds the agent team and its coordinator from the ``agents`` section of the configuration."""

from __future__ import annotations

import logging

from agents.base import Agent
from agents.coordinator import Coordinator, FusionSettings
from agents.forecast import ForecastAgent
from agents.forecast_model import ForecastUnavailable
from agents.kronos import KronosSettings, load_kronos
from agents.llm import LLMAgent
from agents.macro import MacroAgent
from agents.market import MarketAgent
from agents.onchain import OnChainAgent
from agents.providers import DataProvider, FileJsonProvider, HttpJsonProvider
from agents.risk_agent import RiskAgent
from agents.sentiment import SentimentAgent
from agents.strategy_agent import StrategyAgent
from core.config import AgentsConfig, AgentSourceConfig
from core.events import EventBus
from core.ports import Clock

log = logging.getLogger(__name__)


def build_provider(name: str, source: AgentSourceConfig | None) -> DataProvider | None:
    if source is None:
        return None
    if source.url is not None:
        return HttpJsonProvider(source.url, name=f"{name} source", timeout_s=source.timeout)
    assert source.path is not None
    return FileJsonProvider(source.path, name=f"{name} file")


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
    agents: list[Agent] = [
        MarketAgent(),
        build_forecast_agent(config),
        StrategyAgent(),
        OnChainAgent(build_provider("onchain", config.onchain), _max_age_ms(config.onchain)),
        SentimentAgent(build_provider("sentiment", config.sentiment), _max_age_ms(config.sentiment)),
        MacroAgent(build_provider("macro", config.macro), _max_age_ms(config.macro)),
    ]
    if config.llm.enabled:
        agents.append(LLMAgent(config.llm.url, config.llm.model, config.llm.api_key_env, config.llm.timeout))
    return agents


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
