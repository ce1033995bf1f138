"""What a front end reads of the engine and asks of it: one interface, whoever runs the engine.

The terminal's screens see only a ``Session``. Two implementations: ``runtime.session.LocalSession``
wraps an engine running in the app's own event loop (``opentrade trade``), and
``client.session.RemoteSession`` talks to a gateway (``opentrade trade --attach``), keeping a copy
of the account and of the markets on display from the gateway's event stream.

Reads are synchronous: a screen draws from state the session already holds (the engine's own, or
the copy), never waiting on the network inside a frame. Checks, records and commands are
coroutines, run by the screens in workers. A refusal raises ``OrderRefused`` with the engine's
words (``PermissionDenied`` and ``ProtectionRefused`` where the engine raises those), so a screen
shows the same message whichever session it has.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.config import AgentsConfig, TradingConfig, UIConfig
    from core.events import AgentDecision, Event, RiskAlert, Subscription
    from core.models import (
    Balance,
    Candle,
    Fill,
    FundingPayment,
    Instrument,
    MarketStats,
    Order,
    OrderBook,
    OrderRequest,
    Position,
    ProtectiveLevels,
    RiskState,
    Ticker,
    Trade,
)
    from core.risk.gate import Refusal
    from core.risk.gauges import LimitUsage
    from core.storage.audit import AuditEntry
    from core.strategies.info import StrategyInfo


class Session(Protocol):
    #: the engine runs in another process (a gateway): it goes on trading, and watching its
    #: engine-side levels, when this front end quits
    attached: bool
    #: where the engine is, for the trader ("in this process", the gateway's URL)
    where: str

    # -- life -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Up to the first screen: the markets listed, the account known."""

    async def start_services(self) -> None:
        """What may come after the first screen (the strategies and agents of an in-process
        engine); nothing for an attached session."""

    @property
    def services_started(self) -> bool: ...

    async def close(self) -> None:
        """An in-process engine stops; an attached one goes on."""

    def subscribe(self, *kinds: type[Event], maxsize: int, name: str) -> Subscription:
        """The engine's events as they happen (an attached session's arrive from the stream)."""

    @property
    def connection_state(self) -> str:
        """"connected", or what the link to the engine is doing ("reconnecting: ...")."""

    # -- settings -------------------------------------------------------------------------------
    @property
    def trading(self) -> TradingConfig: ...

    @property
    def ui(self) -> UIConfig: ...

    @property
    def agents(self) -> AgentsConfig: ...

    def now_ms(self) -> int: ...

    async def get_state(self, key: str) -> str | None:
        """The interface's saved state (screen, market, theme)."""

    async def set_state(self, key: str, value: str) -> None: ...

    # -- venues and markets ---------------------------------------------------------------------
    @property
    def venue_names(self) -> list[str]: ...

    @property
    def default_venue(self) -> str: ...

    def venue_mode(self, venue: str) -> str: ...

    def confirm_live(self, venue: str) -> None:
        """A person typed the live venue's name: its orders may go out."""

    def instruments(self, venue: str) -> list[Instrument]: ...

    def instrument(self, venue: str, symbol: str) -> Instrument:
        """Raises OrderRefused for a market the venue does not list."""

    def watch_market(self, venue: str, symbol: str) -> None:
        """The market on display: its book, trades and candles are kept from now on."""

    def book(self, venue: str, symbol: str) -> OrderBook | None: ...

    def ticker(self, venue: str, symbol: str) -> Ticker | None: ...

    def trades(self, venue: str, symbol: str) -> list[Trade]: ...

    def candles(self, venue: str, symbol: str, timeframe: str) -> list[Candle]: ...

    def mark(self, venue: str, symbol: str) -> Decimal | None: ...

    def market_stats(self, venue: str, symbol: str) -> MarketStats | None:
        """The data service's latest funding, open interest and long/short reading, if any."""

    def connection(self, venue: str) -> tuple[str, float | None]:
        """The venue's connection state and latency."""

    # -- the account ----------------------------------------------------------------------------
    @property
    def quote_currency(self) -> str: ...

    @property
    def maintenance_margin_rate(self) -> Decimal: ...

    def equity(self) -> Decimal: ...

    def daily_pnl(self) -> Decimal: ...

    def positions(self) -> list[Position]: ...

    def position(self, venue: str, symbol: str) -> Position | None: ...

    def leverage_in_use(self, venue: str, symbol: str) -> tuple[int, str]: ...

    def balances(self, venue: str) -> list[Balance]: ...

    def asset_value(self, venue: str, asset: str, amount: Decimal) -> Decimal | None: ...

    def levels(self, venue: str, symbol: str) -> ProtectiveLevels | None:
        """The stop-loss and take-profit of the position on a market."""

    def holds_protective_orders(self, venue: str, symbol: str) -> bool: ...

    def watched_levels(self) -> list[ProtectiveLevels]:
        """Engine-side levels, which nothing watches once an in-process engine stops."""

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]: ...

    async def order_history(self, limit: int) -> list[Order]: ...

    async def fills(self, limit: int) -> list[Fill]: ...

    async def all_fills(self) -> list[Fill]:
        """Every stored fill, oldest first: what the reports are worked out from."""

    async def all_funding(self) -> list[FundingPayment]:
        """Every stored funding payment, oldest first: the reports' funding."""

    async def audit_entries(self, kind: str | None = None, limit: int = 100) -> list[AuditEntry]: ...

    # -- risk -----------------------------------------------------------------------------------
    @property
    def risk_state(self) -> RiskState: ...

    @property
    def halted_by_person(self) -> bool: ...

    def blockers(self) -> list[tuple[str, str]]:
        """(rule, reason) of everything that refuses new exposure right now."""

    def tripped_breakers(self) -> list[tuple[str, str]]:
        """(scope, reason) of the tripped circuit breakers."""

    def limits_usage(self) -> list[LimitUsage]: ...

    def orders_today(self) -> tuple[int, int]:
        """Orders placed today and the most allowed."""

    def recent_alerts(self) -> list[RiskAlert]: ...

    # -- agents and strategies ------------------------------------------------------------------
    def latest_decisions(self) -> list[AgentDecision]: ...

    def strategies(self) -> list[StrategyInfo] | None:
        """None while the strategies are not loaded yet."""

    async def start_strategy(self, strategy_id: str) -> None: ...

    async def stop_strategy(self, strategy_id: str) -> None: ...

    async def set_strategy_params(self, strategy_id: str, params: dict[str, Any], note: str = "") -> None:
        """ValueError (ParameterError) with the strategy's words for a refused value."""

    # -- checks before a confirmation -----------------------------------------------------------
    async def check_order(self, request: OrderRequest) -> Refusal | None: ...

    async def check_cancel(self) -> Refusal | None: ...

    def check_modify(self, client_order_id: str, price: Decimal | None, size: Decimal | None) -> Refusal | None:
        """Synchronous (the modify dialog checks as it closes); an attached session leaves it to
        the gateway, which checks again on its own path anyway."""

    def closing_request(self, venue: str, symbol: str) -> OrderRequest | None: ...

    # -- commands -------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> Order: ...

    async def modify_order(self, client_order_id: str, *, price: Decimal | None, size: Decimal | None) -> Order: ...

    async def cancel_order(self, client_order_id: str) -> Order: ...

    async def cancel_all(self) -> int: ...

    async def close_position(self, venue: str, symbol: str) -> Order | None: ...

    async def close_all(self) -> int: ...

    async def set_protection(self, venue: str, symbol: str, *, stop_loss: Decimal | None,
                             take_profit: Decimal | None) -> ProtectiveLevels | None: ...

    async def emergency_stop(self, reason: str) -> None: ...

    async def reset_risk(self) -> None: ...
