"""The configuration file as pydantic models, and the errors a person can act on.

A bad file fails with the file name, the line, the key path and what was expected. Secrets
never live here: API keys come from the environment or a 0600 secrets file (``core.secrets``).
A file must be UTF-8, give each key once, and hold at least one setting: an empty file is
refused rather than taken to mean the built-in defaults (no file at all means those), since
a file emptied by mistake would otherwise trade on settings nobody chose.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from core.redact import mask_url_passwords
from core.symbols import symbol_problem

DEFAULT_MARKETS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT"]
# Above this a balance is a typo, and its equity would overflow to infinity in float sums.
MAX_AMOUNT = Decimal(10) ** 15


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TradingConfig(Section):
    """Order-level defaults (first design document). Money amounts are in the quote currency."""

    default_leverage: int = Field(
        default=3, ge=1, le=125,
        description="the design document's 10x is above the 3x hard rule, so the default is 3",
    )
    auto_protect: bool = Field(
        default=False,
        description="give every position without levels of its own a stop-loss and take-profit at the "
                    "percentages below, shown as 'auto'; off, a position has only the levels it is given",
    )
    stop_loss_pct: float = Field(default=0.02, gt=0, lt=1, description="auto stop-loss distance from the entry")
    take_profit_pct: float = Field(default=0.06, gt=0, lt=10, description="auto take-profit distance from the entry")
    confirm_notional_above: Decimal = Field(default=Decimal(10000), gt=0)
    confirm_distance_pct: float = Field(default=0.02, gt=0, lt=1)


class StrategyConfig(BaseModel):
    """One configured strategy. Keys other than the common ones are the strategy's parameters,
    checked against its declared parameters when the strategy engine loads it."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = False
    kind: str | None = None
    venue: str = "paper"
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT"])
    timeframe: str = "1m"
    allocation_pct: float = Field(default=0.1, gt=0, le=1)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _default_strategies() -> dict[str, StrategyConfig]:
    return {
        "ai_trend_following": StrategyConfig(
            enabled=True, confidence_threshold=0.7, position_size_pct=0.1  # type: ignore[call-arg]
        )
    }


def builtin_strategies(venues: dict[str, PaperVenueConfig | CcxtVenueConfig | PluginVenueConfig],
                       default_venue: str) -> dict[str, StrategyConfig]:
    """The strategy a file without ``strategies:`` gets: the AI trend following on the default
    venue and one of its markets (BTC/USDT when it has it). On a live venue it is loaded but
    stopped: a strategy the file never mentions does not trade real money on its own."""
    venue = venues[default_venue]
    markets = [m.symbol for m in venue.markets] if isinstance(venue, PaperVenueConfig) else list(venue.markets)
    symbols = ["BTC/USDT"] if "BTC/USDT" in markets or not markets else markets[:1]
    live = not isinstance(venue, PaperVenueConfig) and venue.mode == "live"
    return {
        name: strategy.model_copy(update={"venue": default_venue, "symbols": symbols, "enabled": strategy.enabled and not live})
        for name, strategy in _default_strategies().items()
    }


class RiskConfig(Section):
    """Risk limits: the first document's monitoring parameters and the second's hard rules."""

    max_position_size: Decimal = Field(default=Decimal(1000), gt=0, description="largest position notional")
    max_daily_loss: Decimal = Field(default=Decimal(500), gt=0, description="daily loss that halts trading")
    emergency_stop_loss: float = Field(default=0.1, gt=0, le=1, description="equity drawdown that triggers the emergency stop")
    max_correlation: float = Field(default=0.8, ge=0, le=1)
    position_check_interval: float = Field(default=30, gt=0, description="seconds")
    max_position_pct: float = Field(default=0.10, gt=0, le=1, description="largest position as a share of equity")
    max_leverage: int = Field(default=3, ge=1, le=125)
    max_daily_loss_pct: float = Field(default=0.05, gt=0, le=1)
    max_open_positions: int = Field(default=3, ge=1)
    max_symbol_exposure_pct: float = Field(default=0.15, gt=0, le=10)
    max_total_exposure_pct: float = Field(default=0.40, gt=0, le=10)
    max_order_loss: Decimal = Field(default=Decimal(250), gt=0, description="loss at the stop an order may risk")
    fat_finger_pct: float = Field(default=0.05, gt=0, lt=1, description="farthest an order may be priced from the mark")
    reducing_at_loss_fraction: float = Field(default=0.8, gt=0, le=1,
                                             description="share of the daily loss limit at which only reducing orders pass")
    liquidation_warning_pct: float = Field(default=0.05, gt=0, lt=1, description="mark this close to a liquidation price raises an alert")


class CircuitBreakerConfig(Section):
    """Breakers halt trading on their own and stay tripped until an admin resets them.

    Defaults follow the second design document's family of projects: a 15% drawdown pauses
    the account, an 8% move of one market within ``price_move_window`` trips the system breaker
    (exposure limits of 40% / 15% live in ``risk_management``)."""

    enabled: bool = True
    account_drawdown_pct: float = Field(default=0.15, gt=0, le=1, description="equity drawdown from its peak that pauses the account")
    price_move_pct: float = Field(default=0.08, gt=0, le=1, description="market move within the window that trips the system breaker")
    price_move_window: float = Field(default=300, gt=0, le=86400, description="seconds")
    max_trades_per_day: int = Field(default=20, ge=1, le=1_000_000,
                                    description="orders placed per UTC day, engine's own protective orders excepted")
    rejection_burst: int = Field(default=10, ge=1, le=10_000,
                                 description="refused or rejected orders within the window that trip a breaker")
    rejection_window: float = Field(default=60, gt=0, le=86400, description="seconds")
    stale_feed_seconds: float = Field(default=120, gt=0, le=86400,
                                      description="no book or ticker for this long (seen on two checks in a row) trips the system breaker")
    venue_error_rate: float = Field(default=0.5, gt=0, le=1,
                                    description="share of failed venue calls in the window that trips the system breaker")
    venue_error_min_calls: int = Field(default=6, ge=1, le=10_000, description="calls needed in the window before the error rate counts")
    venue_error_window: float = Field(default=300, gt=0, le=86400, description="seconds")


class SurveillanceConfig(Section):
    """Abnormal trading detection in front of the risk check (the fat-finger band is risk_management's)."""

    enabled: bool = True
    max_orders_per_minute: int = Field(default=60, ge=1, le=100_000, description="account-wide order rate")
    max_strategy_orders_per_minute: int = Field(default=30, ge=1, le=100_000)
    duplicate_window: float = Field(default=2, ge=0, le=3600,
                                    description="seconds in which the same side, size and price counts as a duplicate")
    self_trade_prevention: bool = True
    runaway_orders: int = Field(default=120, ge=1, le=1_000_000,
                                description="order attempts by one strategy within the runaway window that stop it")
    runaway_loss_pct: float = Field(default=0.03, gt=0, le=1,
                                    description="realized loss of one strategy within the window, as a share of equity, that stops it")
    runaway_window: float = Field(default=3600, gt=0, le=604800, description="seconds")


class PermissionsConfig(Section):
    """Who may do what: each profile has a level; ``profile`` names the one in force."""

    profile: str = Field(default="owner", min_length=1)
    profiles: dict[str, Literal["read_only", "trade", "admin"]] = Field(default_factory=lambda: {"owner": "admin"})  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _known_profile(self) -> PermissionsConfig:
        if self.profile not in self.profiles:
            raise ValueError(f"profile '{self.profile}' is not among the profiles: {', '.join(self.profiles) or 'none'}")
        return self


class NotifierConfig(Section):
    """One notification channel. Tokens and passwords come from the environment variable named here."""

    type: Literal["telegram", "webhook", "email"]
    url: str | None = Field(default=None, description="webhook URL, or the Telegram API base (default https://api.telegram.org)")
    chat_id: str | None = None
    token_env: str = Field(default="OPENTRADE_TELEGRAM_TOKEN", description="environment variable holding the Telegram bot token")
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password_env: str = Field(default="OPENTRADE_SMTP_PASSWORD", description="environment variable holding the SMTP password")
    sender: str | None = None
    recipients: list[str] = Field(default_factory=list)
    timeout: float = Field(default=10, gt=0, le=120, description="seconds")

    @model_validator(mode="after")
    def _complete(self) -> NotifierConfig:
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https:// (got {self.url!r})")
        if self.type == "webhook" and self.url is None:
            raise ValueError("a webhook notifier needs a url")
        if self.type == "telegram" and not self.chat_id:
            raise ValueError("a telegram notifier needs a chat_id")
        if self.type == "email" and (not self.smtp_host or not self.sender or not self.recipients):
            raise ValueError("an email notifier needs smtp_host, sender and recipients")
        return self


class NotificationsConfig(Section):
    """Alerts sent outside the app: rate-limited, batched, retried from a queue kept in the database."""

    channels: list[NotifierConfig] = Field(default_factory=list)
    min_level: Literal["info", "warning", "critical"] = "warning"
    batch_seconds: float = Field(default=5, gt=0, le=3600, description="messages gathered into one send")
    max_per_minute: int = Field(default=6, ge=1, le=600, description="sends per channel per minute")
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_seconds: float = Field(default=30, gt=0, le=86400, description="first retry delay, doubled each attempt")
    queue_limit: int = Field(default=500, ge=10, le=100_000, description="messages kept; the oldest go first")


class DynamicRiskConfig(Section):
    """Position limits that follow the market: volatility, sentiment extremes and macro events."""

    enabled: bool = True
    target_volatility: float = Field(default=0.6, gt=0, le=10, description="annualised volatility at which the full position limit applies")
    min_size_factor: float = Field(default=0.25, gt=0, le=1, description="smallest share of the position limit volatility can cut it to")
    sentiment_extreme: float = Field(default=0.8, gt=0, le=1,
                                     description="extremity of an outside sentiment reading counted as extreme: "
                                                 "0 at fear-and-greed 50, 0.8 at 25 or 75, 1 at 0 or 100")
    sentiment_size_factor: float = Field(default=0.5, gt=0, le=1, description="share of the position limit while sentiment is extreme")
    sentiment_max_age: float = Field(default=21600, gt=0, description="seconds a sentiment reading stays in force")
    macro_calendar: Path | None = Field(default=None, description="YAML/JSON list of macro events during which new positions pause")


def _check_balances(value: dict[str, Decimal]) -> dict[str, Decimal]:
    for asset, amount in value.items():
        if amount < 0:
            raise ValueError(f"balance of {asset} must not be negative")
        if amount > MAX_AMOUNT:
            raise ValueError(f"balance of {asset} must be at most {MAX_AMOUNT:,f} (got {amount})")
    return value


class PaperMarketConfig(Section):
    symbol: str
    price: Decimal | None = Field(default=None, gt=0, le=MAX_AMOUNT)
    volatility: float | None = Field(default=None, gt=0, lt=1, description="per-second volatility")
    contract_size: Decimal = Field(default=Decimal(1), gt=0, le=MAX_AMOUNT,
                                   description="base units one contract of a perpetual is worth (OKX's BTC: 0.01)")

    @field_validator("symbol")
    @classmethod
    def _symbol_shape(cls, value: str) -> str:
        problem = symbol_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _contracts_on_perpetuals(self) -> PaperMarketConfig:
        if self.contract_size != 1 and ":" not in self.symbol:
            raise ValueError(f"{self.symbol} is a spot market: contract_size applies to perpetuals only")
        return self


class PaperVenueConfig(Section):
    type: Literal["paper"] = "paper"
    markets: list[PaperMarketConfig] = Field(
        default_factory=lambda: [PaperMarketConfig(symbol=s) for s in DEFAULT_MARKETS]
    )
    balances: dict[str, Decimal] = Field(default_factory=lambda: {"USDT": Decimal(100000)})
    seed: int = 42
    speed: float = Field(default=1.0, gt=0, le=1000, description="simulated seconds per real second")
    tick_interval: float = Field(default=0.1, gt=0, le=60, description="seconds between simulator steps")
    latency_ms: int = Field(default=0, ge=0, le=10000)
    replay: Path | None = Field(default=None, description="CSV or ccxt OHLCV JSON to replay instead of simulating")

    @field_validator("markets", mode="before")
    @classmethod
    def _plain_symbols(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"symbol": item} if isinstance(item, str) else item for item in value]
        return value

    _balances = field_validator("balances")(_check_balances)


class CcxtVenueConfig(Section):
    type: Literal["ccxt"] = "ccxt"
    exchange: str
    mode: Literal["paper", "live"] = "paper"
    markets: list[str] = Field(default_factory=lambda: ["BTC/USDT"])
    sandbox: bool = False
    api_urls: dict[str, str] = Field(default_factory=dict)
    poll_interval: float = Field(default=1.0, gt=0, le=3600)
    markets_cache_max_age: float = Field(default=86400, ge=0, description="seconds")
    timeout_ms: int = Field(default=10000, ge=100)
    balances: dict[str, Decimal] = Field(
        default_factory=lambda: {"USDT": Decimal(100000)}, description="paper mode starting balances"
    )
    options: dict[str, Any] = Field(default_factory=dict)
    margin: bool = Field(
        default=False,
        description="the account borrows for spot sales (a margin account): strategies may sell short on spot markets",
    )

    _balances = field_validator("balances")(_check_balances)


# The dedicated perpetuals venues (exchanges/perps): the venue type, ccxt's exchange id, and
# what a market is settled in there (the default market and paper balance).
PERP_VENUES = {"hyperliquid": "USDC", "binanceusdm": "USDT"}


class PerpVenueConfig(CcxtVenueConfig):
    """A dedicated perpetuals venue: a ccxt venue that also reads funding, open interest and
    mark prices, amends orders in place, and sets the account's position and margin modes
    (``position_mode``, ``margin_mode``) before trading. ``exchange`` is the type itself."""

    type: Literal["hyperliquid", "binanceusdm"]  # type: ignore[assignment]
    exchange: str = ""
    position_mode: Literal["one_way", "hedge"] = Field(
        default="one_way", description="one_way: one net position per market, the only mode OpenTrade keeps"
    )
    margin_mode: Literal["cross", "isolated"] | None = Field(
        default=None, description="set on every configured market before trading; unset: left as it is on the exchange"
    )
    leverage: int | None = Field(
        default=None, ge=1, le=200, description="Hyperliquid sets a market's margin mode together with its leverage"
    )

    @model_validator(mode="before")
    @classmethod
    def _exchange_defaults(cls, value: Any) -> Any:
        """The exchange is the type; markets and paper balances default to the settle currency's."""
        if not isinstance(value, dict) or value.get("type") not in PERP_VENUES:
            return value
        settle = PERP_VENUES[value["type"]]
        if "exchange" in value and value["exchange"] != value["type"]:
            raise ValueError(f"exchange: the {value['type']} venue is on {value['type']}; remove 'exchange: {value['exchange']}'")
        return {"markets": [f"BTC/{settle}:{settle}"], "balances": {settle: Decimal(100000)}, **value, "exchange": value["type"]}

    @model_validator(mode="after")
    def _modes(self) -> PerpVenueConfig:
        if self.position_mode == "hedge":
            raise ValueError(
                "position_mode: hedge is not supported: OpenTrade keeps one net position per market "
                "(a long and a short of one market at once cannot be shown or risk-checked); use one_way"
            )
        if "marginMode" in self.options:
            raise ValueError("options.marginMode: use the venue's margin_mode key (cross or isolated) instead")
        if self.type == "hyperliquid" and self.margin_mode is not None and self.leverage is None:
            raise ValueError(
                f"margin_mode: {self.margin_mode}: Hyperliquid sets a market's margin mode together with its leverage; "
                "add leverage: N (1 to the market's maximum)"
            )
        spot = [m for m in self.markets if ":" not in m]
        if spot:
            settle = PERP_VENUES[self.type]
            raise ValueError(
                f"markets: {', '.join(spot)} {'is not a perpetual' if len(spot) == 1 else 'are not perpetuals'}; "
                f"the {self.type} venue trades perpetuals such as BTC/{settle}:{settle}"
            )
        return self


def margin_venues(config: AppConfig) -> frozenset[str]:
    """Venues whose spot markets strategies may sell short; elsewhere they go flat instead."""
    return frozenset(name for name, venue in config.venues.items() if isinstance(venue, CcxtVenueConfig) and venue.margin)


class PluginVenueConfig(BaseModel):
    """A venue an installed plugin provides: ``type`` is its name (``opentrade plugin list``
    shows them); ``mode`` and ``markets`` mean what they mean for a ccxt venue; every other key
    is the plugin's own setting (``options``), checked by the plugin when it builds the venue."""

    model_config = ConfigDict(extra="allow")

    type: str
    mode: Literal["paper", "live"] = "paper"
    markets: list[str] = Field(default_factory=lambda: ["BTC/USDT"])

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @field_validator("type")
    @classmethod
    def _installed(cls, value: str) -> str:
        return installed_plugin("venue", value)


def installed_plugin(kind: str, name: str) -> str:
    """The name, when an installed plugin of the kind has it: a typo, or a plugin missing from
    this machine, is named with the file's line rather than when the engine starts. The names
    come from the package metadata; nothing is imported."""
    from core.plugins import registry  # noqa: PLC0415 - core.plugins imports this module

    installed = [plugin.name for plugin in registry().found(kind)]
    if name not in installed:
        raise ValueError(f"no {kind.replace('_', ' ')} plugin '{name}' is installed (installed: {', '.join(installed)})")
    return name


def _venue_type(value: Any) -> str:
    """Which model reads a venue: the built-in paper, ccxt and perpetuals ones, or a plugin's."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind in PERP_VENUES:
        return "perp"
    return kind if kind in ("paper", "ccxt") else "plugin"


VenueConfig = Annotated[
    Annotated[PaperVenueConfig, Tag("paper")] | Annotated[CcxtVenueConfig, Tag("ccxt")]
    | Annotated[PerpVenueConfig, Tag("perp")] | Annotated[PluginVenueConfig, Tag("plugin")],
    Discriminator(_venue_type),
]


class StorageConfig(Section):
    path: Path | None = Field(default=None, description="SQLite file; default <home>/opentrade.sqlite")
    url: str | None = Field(
        default=None,
        description="postgresql://user@host[:port]/database: keep the history in PostgreSQL instead of SQLite; "
        "the password comes from OPENTRADE_DB_PASSWORD or the secrets file (database: {password: ...})",
    )
    synchronous: Literal["NORMAL", "FULL"] = "FULL"

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ValueError("must look like postgresql://user@host/database (PostgreSQL is the only server supported)")
        if parts.password is not None:
            raise ValueError(
                "must not hold the password: set OPENTRADE_DB_PASSWORD, or put it in the secrets file "
                "under database: {password: ...}"
            )
        return url

    @model_validator(mode="after")
    def _one_place(self) -> StorageConfig:
        if self.url is not None and self.path is not None:
            raise ValueError("give path (a SQLite file) or url (PostgreSQL), not both")
        return self


class StrategyReviewConfig(Section):
    """The daily review (second design document, section 7): evolve running strategies' parameters."""

    enabled: bool = True
    hour_utc: int = Field(default=0, ge=0, le=23, description="hour of the day (UTC) the review runs")
    lookback_days: int = Field(default=90, ge=7, le=3650, description="stored candles the variants are tested on")


class UIConfig(Section):
    theme: str = "opentrade-dark"
    refresh_hz: float = Field(default=8, gt=0, le=60)
    keymap: dict[str, str] = Field(default_factory=dict)


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class AgentSourceConfig(Section):
    """An outside data source for the On-chain, Sentiment or Macro agent: a URL, a local file,
    or a data provider an installed plugin adds (``provider``, with its ``options``)."""

    url: str | None = Field(default=None, description="HTTP(S) JSON source; {symbol}, {base}, {quote} are filled in")
    path: Path | None = Field(default=None, description="local JSON file kept up to date by another process")
    provider: str | None = Field(default=None, description="a data provider plugin's name (opentrade plugin list)")
    options: dict[str, Any] = Field(default_factory=dict, description="the provider plugin's own settings")
    max_age: float = Field(default=21600, gt=0, description="seconds after which the data counts as stale")
    timeout: float = Field(default=5, gt=0, le=120, description="seconds")

    @model_validator(mode="after")
    def _one_source(self) -> AgentSourceConfig:
        if self.provider is None and (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of url or path, or a provider")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https:// (got {self.url!r})")
        if self.options and self.provider is None:
            raise ValueError("options are a provider plugin's settings: name the provider too")
        return self

    @field_validator("provider")
    @classmethod
    def _installed(cls, value: str | None) -> str | None:
        return None if value is None else installed_plugin("data_provider", value)

    @property
    def provider_name(self) -> str:
        """The data provider plugin that reads this source: the built-in ``http_json`` for a
        URL and ``file_json`` for a file, unless one is named."""
        return self.provider or ("http_json" if self.url is not None else "file_json")


class LLMAgentConfig(Section):
    """An optional agent asking an OpenAI-compatible chat endpoint; the key comes from the environment."""

    enabled: bool = False
    url: str = Field(default="http://127.0.0.1:11434/v1", description="base URL; /chat/completions is appended")
    model: str = "llama3.1"
    api_key_env: str = Field(default="OPENTRADE_LLM_API_KEY", description="environment variable holding the key")
    timeout: float = Field(default=30, gt=0, le=300, description="seconds")


class KronosConfig(Section):
    """The optional Kronos forecasting backend: used only when torch, its code and local weights exist."""

    enabled: bool = False
    model_path: Path | None = None
    tokenizer_path: Path | None = None
    module: str = Field(default="model", description="importable module holding Kronos, KronosTokenizer, KronosPredictor")
    device: str = "cpu"


class AgentsConfig(Section):
    """The analysis agents and how the coordinator weighs them (agent name -> weight)."""

    enabled: bool = Field(default=True, description="run the analysis on a schedule inside the app and headless runs")
    interval: float = Field(default=60, ge=1, le=86400, description="seconds between analyses of each symbol")
    venue: str | None = Field(default=None, description="venue whose markets are analysed (default: default_venue)")
    symbols: list[str] | None = Field(default=None, description="symbols to analyse (default: the venue's markets)")
    history: int = Field(default=300, ge=50, le=5000,
                         description="candles per timeframe given to the agents, or more when one needs more "
                                     "(the forecast model: 314 at horizon 12)")
    timeframes: list[str] = Field(default_factory=lambda: ["1h"], min_length=1, description="the first is the primary one")
    timeout: float = Field(default=5, gt=0, le=300, description="seconds each agent may take")
    weights: dict[str, float] = Field(default_factory=lambda: {
        "market": 0.30, "forecast": 0.20, "strategy": 0.20, "onchain": 0.10,
        "sentiment": 0.10, "macro": 0.10, "llm": 0.10,
    })
    threshold: float = Field(default=0.15, gt=0, lt=1, description="fused score needed to buy or sell")
    stop_atr: float = Field(default=2.0, gt=0, description="stop-loss distance in ATRs")
    take_profit_atr: float = Field(default=3.0, gt=0, description="take-profit distance in ATRs")
    forecast_horizon: int = Field(default=12, ge=1, le=500, description="candles ahead")
    target_volatility: float = Field(default=0.6, gt=0, description="annualised volatility the Risk agent sizes to")
    kelly_fraction: float = Field(default=0.5, gt=0, le=1)
    onchain: AgentSourceConfig | None = None
    sentiment: AgentSourceConfig | None = None
    macro: AgentSourceConfig | None = None
    llm: LLMAgentConfig = Field(default_factory=LLMAgentConfig)
    kronos: KronosConfig = Field(default_factory=KronosConfig)

    @field_validator("weights")
    @classmethod
    def _non_negative_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if weight < 0:
                raise ValueError(f"weight of agent '{name}' must not be negative")
        return value


class GatewayConfig(Section):
    """`opentrade gateway`: the engine's HTTP and WebSocket API. It listens on 127.0.0.1 unless
    told otherwise; any other address needs TLS (a certificate and its key) or the
    ``--insecure`` flag, since tokens and orders would cross the network in clear text."""

    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(default=18790, ge=0, le=65535, description="0 picks a free port")
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain) served over HTTPS")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")
    max_body_bytes: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024, description="larger request bodies are refused (413)")
    replay_messages: int = Field(default=10000, ge=100, le=1_000_000,
                                 description="order, fill, risk and alert messages kept for clients that reconnect")
    client_backlog: int = Field(default=10000, ge=100, le=1_000_000,
                                description="unsent messages that make the gateway drop a stuck client (it resumes on reconnect)")
    auth_failures: int = Field(default=10, ge=1, le=10_000,
                               description="failed authentications from one address within auth_window before it is refused (429)")
    auth_window: float = Field(default=60, gt=0, le=86400, description="seconds")

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewayConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")
        return self


ChatLevel = Literal["read_only", "trade", "admin"]


class TelegramConfig(Section):
    """The gateway's Telegram bot: commands from the chats named here, each acting at its own
    level (never above the profile's, as API tokens). The bot token comes from the environment
    variable named by ``token_env``, never from this file. Long polling by default; a webhook
    needs a public https:// address that a proxy forwards to the gateway's /telegram/webhook."""

    enabled: bool = True
    token_env: str = Field(default="OPENTRADE_TELEGRAM_TOKEN", description="environment variable holding the bot token from BotFather")
    chats: dict[int, ChatLevel] = Field(description="chat id: level; other chats are ignored and audited")
    mode: Literal["polling", "webhook"] = "polling"
    api_url: str = Field(default="https://api.telegram.org", description="the Bot API server")
    webhook_url: str | None = Field(default=None, description="public https:// URL forwarded to <gateway>/telegram/webhook")
    poll_timeout: int = Field(default=30, ge=1, le=50, description="seconds each long poll waits for updates")

    @model_validator(mode="before")
    @classmethod
    def _variable_name(cls, value: Any) -> Any:
        """Checked on the whole section so that the error does not repeat the value: a token
        pasted here by mistake must not reach the screen or a log."""
        name = value.get("token_env") if isinstance(value, dict) else None
        if name is not None and not (isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)):
            raise ValueError("token_env names the environment variable that holds the bot token (letters, digits "
                             "and _), not the token itself")
        return value

    @field_validator("chats", mode="before")
    @classmethod
    def _chat_ids(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if not value:
                raise ValueError("name at least one chat id with its level (read_only, trade or admin): "
                                 "the bot answers no other chat")
            for key in value:
                if isinstance(key, bool) or not str(key).lstrip("-").isdigit() or int(key) == 0:
                    raise ValueError(f"chat id {key!r} is not a Telegram chat id: a whole number, negative for groups")
        return value

    @model_validator(mode="after")
    def _urls(self) -> TelegramConfig:
        if not self.api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must start with http:// or https:// (got {self.api_url!r})")
        if self.webhook_url is not None and not self.webhook_url.startswith("https://"):
            raise ValueError(f"webhook_url must start with https:// (Telegram sends updates only over HTTPS; got {self.webhook_url!r})")
        if self.mode == "webhook" and self.webhook_url is None:
            raise ValueError("mode webhook needs webhook_url: the public https:// address that reaches the gateway's /telegram/webhook")
        return self


class MarketDataConfig(Section):
    """The data service (core/marketdata): per configured market, on a schedule, candles, the
    book's spread and depth, and for perpetuals funding, open interest and the long/short
    ratio where the venue has them, into the database and the Trade screen's header."""

    enabled: bool = Field(default=False, description="collect while the app or a headless run is up")
    interval: float = Field(default=60, ge=1, le=86400, description="seconds between collections of each market")
    timeframe: str = Field(default="1h", pattern=r"^[1-9][0-9]*[smhdw]$", description="timeframe of the stored candles")
    history: int = Field(default=500, ge=1, le=100_000, description="candles kept stored, counted back from now")


class AppConfig(Section):
    trading: TradingConfig = Field(default_factory=TradingConfig)
    strategies: dict[str, StrategyConfig] = Field(default_factory=_default_strategies)
    risk_management: RiskConfig = Field(default_factory=RiskConfig)
    venues: dict[str, VenueConfig] = Field(default_factory=lambda: dict[str, VenueConfig](paper=PaperVenueConfig()))
    default_venue: str = "paper"
    storage: StorageConfig = Field(default_factory=StorageConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    strategy_review: StrategyReviewConfig = Field(default_factory=StrategyReviewConfig)
    market_data: MarketDataConfig = Field(default_factory=MarketDataConfig)
    circuit_breakers: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    surveillance: SurveillanceConfig = Field(default_factory=SurveillanceConfig)
    permissions: PermissionsConfig = Field(default_factory=PermissionsConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    dynamic_risk: DynamicRiskConfig = Field(default_factory=DynamicRiskConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    telegram: TelegramConfig | None = Field(default=None, description="the gateway's Telegram bot (off without this section)")
    secrets_file: Path | None = None

    @field_validator("venues", mode="before")
    @classmethod
    def _infer_venue_type(cls, value: Any) -> Any:
        """A venue with an ``exchange`` key is a ccxt venue; without one, the paper venue."""
        if isinstance(value, dict):
            return {
                name: ({**venue, "type": "ccxt" if "exchange" in venue else "paper"}
                       if isinstance(venue, dict) and "type" not in venue else venue)
                for name, venue in value.items()
            }
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> AppConfig:
        if "default_venue" not in self.model_fields_set and self.default_venue not in self.venues and self.venues:
            self._set_unmentioned("default_venue", next(iter(self.venues)))
        if self.default_venue not in self.venues:
            raise ValueError(
                f"default_venue '{self.default_venue}' is not among the venues: {', '.join(self.venues) or 'none'}"
            )
        if self.trading.default_leverage > self.risk_management.max_leverage:
            raise ValueError(
                f"trading.default_leverage {self.trading.default_leverage} is above "
                f"risk_management.max_leverage {self.risk_management.max_leverage}"
            )
        if "strategies" not in self.model_fields_set:
            self._set_unmentioned("strategies", builtin_strategies(self.venues, self.default_venue))
        for name, strategy in self.strategies.items():
            if strategy.enabled and strategy.venue not in self.venues:
                raise ValueError(f"strategy '{name}' uses venue '{strategy.venue}', which is not configured")
        return self


    def with_venues(self, venues: dict[str, VenueConfig]) -> AppConfig:
        """A copy with these venues (``trade --mode live`` switches one); the built-in strategy
        of a file without ``strategies:`` follows them as it does when the file is loaded."""
        changed = self.model_copy(update={"venues": venues})
        if "strategies" not in self.model_fields_set:
            changed._set_unmentioned("strategies", builtin_strategies(venues, self.default_venue))
        return changed

    def _set_unmentioned(self, name: str, value: Any) -> None:
        """A default that follows other settings, still counted as not given by the file (so
        it follows them again when they change, as ``trade --mode live`` does)."""
        setattr(self, name, value)
        self.__pydantic_fields_set__.discard(name)


#: Settings that moved to another section: a file that still has them in the old place is
#: refused with the new place named, never read as if they were there.
MOVED_KEYS: dict[tuple[int | str, ...], str] = {
    ("trading", "max_position_size"): "risk_management.max_position_size",
    ("trading", "max_daily_loss"): "risk_management.max_daily_loss",
}


class ConfigError(Exception):
    """A configuration problem, already worded for the person who has to fix it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location, or its nearest parent."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                key = next((k for k, _ in node.value if getattr(k, "value", None) == str(part)), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def _describe(error: ErrorDetails) -> tuple[tuple[Any, ...], str]:
    loc = tuple(error["loc"])
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        moved = MOVED_KEYS.get(loc)
        return loc, f"this setting moved: write it as {moved}" if moved else "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) else f" (got {mask_url_passwords(repr(given))})"
    return loc, f"{msg[0].lower() + msg[1:]}{shown}"


def _clean_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop the discriminator tags pydantic inserts into union locations (venues.x.paper.seed)."""
    cleaned: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part in ("paper", "ccxt", "perp", "plugin"):
            continue
        cleaned.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(cleaned)


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loading that refuses a key given twice in one mapping. PyYAML keeps the last one
    without a word, so a limit lowered near the top of a file and raised again further down
    would apply the raised one, unseen."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` may be overridden key by key, that is its purpose
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first given on line {first}): give each setting once",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _read_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise ConfigError([f"{where}: {kind}: {problem}"]) from None


def parse_config(text: str, source: str = "<config>") -> AppConfig:
    """Parse YAML text into an AppConfig, or raise ConfigError with located messages. No text
    at all gives the defaults (``load_config`` refuses an empty file)."""
    root, data = _read_yaml(text, source)
    return _validate(root, {} if data is None else data, source)


def _validate(root: yaml.Node | None, data: Any, source: str) -> AppConfig:
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1: the file must be a mapping of sections (trading:, venues:, ...)"])
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc, what = _describe(error)
            loc = _clean_loc(loc, data)
            line = _node_line(root, loc)
            path = ".".join(str(p) for p in loc) or "(top level)"
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {path}: {what}")
        raise ConfigError(problems) from None


def load_config(path: Path | None) -> AppConfig:
    """Load a file, or the defaults when no path is given."""
    if path is None:
        return AppConfig()
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file (run 'opentrade init' to write one)"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    root, data = _read_yaml(_utf8(raw, path), str(path))
    if data is None:
        raise ConfigError([
            f"{path}: the file holds no settings (it is empty or all comments); add settings "
            "(config.example.yaml shows them all), or run without it to use the built-in defaults"
        ])
    return _validate(root, data, str(path))


def _utf8(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            found = "it is UTF-16"
        elif b"\0" in raw:
            found = "it looks like a binary file"
        else:
            line = raw.count(b"\n", 0, exc.start) + 1
            found = f"line {line} has the byte 0x{raw[exc.start]:02x}, which UTF-8 does not allow"
        raise ConfigError([f"{path}: a configuration file must be UTF-8 text; {found}: save it as UTF-8"]) from None


def default_config_path() -> Path:
    """Where `opentrade init` writes and the app looks when --config is not given (XDG)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opentrade" / "config.yaml"


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "opentrade"


def chosen_home(home: str | Path | None) -> Path | None:
    """The home a person chose (--home, else $OPENTRADE_HOME), None for the default one."""
    chosen = Path(home) if home else Path(os.environ["OPENTRADE_HOME"]) if os.environ.get("OPENTRADE_HOME") else None
    return chosen.expanduser() if chosen is not None else None


def resolve_home(home: str | Path | None) -> Path:
    return chosen_home(home) or default_home()


def home_config_path(home: Path) -> Path:
    """A chosen home keeps its own configuration: `init --home DIR` writes it, and the app
    started with that home reads it."""
    return home / "config.yaml"


def database_path(config: AppConfig, home: Path) -> Path:
    return config.storage.path or home / "opentrade.sqlite"
