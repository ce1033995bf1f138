"""The terminal app attached to a gateway: ``core.session.Session`` over the API.

The account (orders, positions with their levels, balances, risk, strategies, decisions, the
status line) is the ``Mirror`` of the gateway's event stream; the market on display and every
ticker are a ``MarketCache`` on a local bus, fed by the same stream, so the screens read both
at once, without waiting on the network inside a frame. Every event the stream brings is also
published on that bus, where the app's subscription finds it exactly as it finds the engine's
events in-process. When the connection drops, ``connection_state`` says "reconnecting" and the
stream resumes from the last sequence number it handled (the gateway replays every order and
fill message missed, or sends a fresh snapshot, which replaces the mirror).

Checks, records and commands are the gateway's REST calls; its refusals are raised as the
engine raises them in-process (``OrderRefused``, ``PermissionDenied``, ``ProtectionRefused``,
``ValueError`` for a strategy's parameter), with the engine's words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from client.discovery import Target
from client.errors import ApiError, BadRequest, GatewayError, NotAllowed
from client.http import GatewayClient
from client.mirror import Mirror
from client.stream import EventStream
from core.api import MAX_PAGE
from core.clock import WallClock
from core.config import AgentsConfig, TradingConfig, UIConfig
from core.events import (
    AgentDecision,
    Event,
    EventBus,
    MarketStatsUpdated,
    OrderBookUpdated,
    RiskAlert,
    RiskStateChanged,
    Subscription,
    TradePrinted,
)
from core.executor import OrderRefused
from core.ledger import MAINTENANCE_MARGIN_RATE
from core.market import MAX_CANDLES, TIMEFRAMES_MS, MarketCache
from core.models import (
    Balance,
    Candle,
    Fill,
    FundingPayment,
    Instrument,
    LevelPlacement,
    MarketStats,
    Order,
    OrderBook,
    OrderRequest,
    OrderType,
    Position,
    PositionSide,
    ProtectiveLevels,
    RiskState,
    Side,
    Ticker,
    TimeInForce,
    Trade,
)
from core.permissions import PermissionDenied
from core.ports import Clock
from core.risk.gate import Refusal
from core.risk.gauges import LimitUsage
from core.risk.protector import ProtectionRefused
from core.storage.audit import AuditEntry
from core.strategies.info import StrategyInfo
from core.stream import ACCOUNT_TOPICS, MARKET_TOPICS, StatusChanged, StreamSnapshot
from core.views import StatusView

log = logging.getLogger(__name__)

TOPICS = (*ACCOUNT_TOPICS, "tickers")
TOKEN_WAITS = 40


class RemoteSession:
    attached = True

    def __init__(self, target: Target, *, rediscover: Callable[[], Target] | None = None, clock: Clock | None = None,
                 retry_initial: float = 0.5, retry_max: float = 5.0) -> None:
        """``rediscover``: the target as the home announces it now. A gateway found through the
        home gives its clients a token that ends with it; when the stream is refused after a
        restart, the restarted gateway's token is read from the home and the stream resumes.

        ``clock``: the time the status bar shows between the gateway's messages (the wall
        clock; a test gives the gateway's simulated one)."""
        self.where = target.url
        self._rediscover = rediscover
        self._retry_initial = retry_initial
        self._client = GatewayClient(target)
        self._clock = clock or WallClock()
        self._bus = EventBus()
        self._market = MarketCache(self._bus)
        self._mirror = Mirror()
        self._stream = EventStream(self._client, TOPICS, retry_initial=retry_initial, retry_max=retry_max,
                                   on_state=self._link_changed)
        self._link = "connecting"
        self._instruments: dict[str, list[Instrument]] = {}
        self._trading: TradingConfig | None = None
        self._ui: UIConfig | None = None
        self._agents = AgentsConfig()
        self._by_person = False
        self._state: dict[str, str] = {}
        self._watched: tuple[str, str] | None = None
        self._snapshot = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """The settings and markets, then the stream's first snapshot of the account."""
        settings = await self._client.settings()
        self._trading, self._ui = settings.trading, settings.ui
        self._agents = AgentsConfig(enabled=settings.agents_enabled, venue=settings.agents_venue)
        for instrument in await self._client.markets():
            self._instruments.setdefault(instrument.venue, []).append(instrument)
        self._follower = asyncio.create_task(self._follow(), name="gateway stream")
        snapshot = asyncio.ensure_future(self._snapshot.wait())
        await asyncio.wait({snapshot, self._follower}, return_when=asyncio.FIRST_COMPLETED)
        if not snapshot.done():
            snapshot.cancel()
            self._follower.result()  # the stream ended before the first snapshot: why

    async def start_services(self) -> None:
        """The gateway runs its strategies and agents itself."""

    @property
    def services_started(self) -> bool:
        return True

    async def close(self) -> None:
        """Detach: the engine goes on trading in the gateway."""
        await self._stream.close()
        tasks, self._follower = [*self._tasks, *([self._follower] if self._follower else [])], None
        self._tasks.clear()  # ended tasks keep the front end's context (its widgets) alive
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._client.close()

    async def _follow(self) -> None:
        """The stream until the session closes; a refused token is replaced by the home's new one
        (a restarted gateway), and if none comes the link says it is lost."""
        try:
            while True:
                try:
                    await self._apply_messages()
                    return
                except _Moved as moved:
                    await self._client.retarget(moved.target)
                except NotAllowed:
                    if not await self._new_token():
                        raise
        except GatewayError as exc:
            self._link = f"lost: {exc.reason}"
            raise

    async def _apply_messages(self) -> None:
        async for message in self._stream.messages():
            event = message.event
            if event is None:
                continue
            self._mirror.apply(event)
            match event:
                case StreamSnapshot(snapshot=snapshot):
                    self._by_person = snapshot.status.halted_by_person
                    self._snapshot.set()
                case StatusChanged(status=status):
                    self._by_person = status.halted_by_person
                case RiskStateChanged(by_person=by_person):
                    self._by_person = by_person
            self._bus.publish(event)

    async def _new_token(self) -> bool:
        """A restarted gateway writes its announcement, with its new token, as it starts: wait a
        little for it. False when there is no home to read or the token stays the one refused."""
        if self._rediscover is None:
            return False
        refused = self._client.target.token
        for _ in range(TOKEN_WAITS):
            self._link = "reconnecting"
            with contextlib.suppress(GatewayError):
                target = self._rediscover()
                if target.token != refused:
                    await self._client.retarget(target)
                    return True
            await asyncio.sleep(self._retry_initial)
        return False

    def _link_changed(self, state: str, detail: str) -> None:
        """While reconnecting, a gateway found through the home may have started again elsewhere
        (another port, a new token): the stream then resumes there (``_Moved``)."""
        if state != self._link:
            log.info("gateway %s: %s %s", self.where, state, detail)
        self._link = state
        if state == "reconnecting" and self._rediscover is not None:
            with contextlib.suppress(GatewayError):
                target = self._rediscover()
                if target.url != self._client.target.url:
                    self.where = target.url
                    raise _Moved(target)

    def subscribe(self, *kinds: type[Event], maxsize: int, name: str) -> Subscription:
        return self._bus.subscribe(*kinds, maxsize=maxsize, name=name)

    @property
    def connection_state(self) -> str:
        return "connected" if self._link == "connected" else self._link

    # -- settings -------------------------------------------------------------------------------
    @property
    def trading(self) -> TradingConfig:
        assert self._trading is not None, "not started"
        return self._trading

    @property
    def ui(self) -> UIConfig:
        assert self._ui is not None, "not started"
        return self._ui

    @property
    def agents(self) -> AgentsConfig:
        return self._agents

    def now_ms(self) -> int:
        return self._clock.now_ms()

    async def get_state(self, key: str) -> str | None:
        """The interface's state is this attachment's own: another front end attached to the same
        gateway keeps its screen and market."""
        return self._state.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self._state[key] = value

    # -- venues and markets ---------------------------------------------------------------------
    @property
    def _status(self) -> StatusView:
        status = self._mirror.status
        assert status is not None, "not started"
        return status

    @property
    def venue_names(self) -> list[str]:
        return [venue.name for venue in self._status.venues]

    @property
    def default_venue(self) -> str:
        return self._status.default_venue

    def venue_mode(self, venue: str) -> str:
        return next((v.mode for v in self._status.venues if v.name == venue), "paper")

    def confirm_live(self, venue: str) -> None:
        """The gateway was told at its start (``--confirm-live VENUE``)."""

    def instruments(self, venue: str) -> list[Instrument]:
        return list(self._instruments.get(venue, ()))

    def instrument(self, venue: str, symbol: str) -> Instrument:
        found = next((i for i in self._instruments.get(venue, ()) if i.symbol == symbol), None)
        if found is None:
            raise OrderRefused(f"{symbol} is not a market on {venue}", "unknown_market")
        return found

    def watch_market(self, venue: str, symbol: str) -> None:
        if self._watched == (venue, symbol):
            return
        previous, self._watched = self._watched, (venue, symbol)
        task = asyncio.create_task(self._watch(previous, venue, symbol), name=f"watching {symbol} on {venue}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, previous: tuple[str, str] | None, venue: str, symbol: str) -> None:
        """The market's book, recent trades and candles as they are now, then its updates. The
        snapshot is published before subscribing, so no update is older than it."""
        try:
            trades = await self._client.trades(symbol, venue, limit=MAX_PAGE)
            book = await self._client.book(symbol, venue)
            stats = await self._client.stats(symbol, venue)
            answers = await asyncio.gather(*(self._client.candles(symbol, venue, timeframe=tf, limit=MAX_CANDLES)
                                             for tf in TIMEFRAMES_MS))
            history = dict(zip(TIMEFRAMES_MS, answers, strict=True))
        except GatewayError as exc:
            log.info("no snapshot of %s on %s: %s", symbol, venue, exc.reason)
        else:
            if not self._market.trades(venue, symbol):
                for trade in trades:
                    self._bus.publish(TradePrinted(trade))
            self._bus.publish(OrderBookUpdated(book))
            if stats is not None:
                self._bus.publish(MarketStatsUpdated(stats))
            for timeframe, candles in history.items():
                self._market.backfill(venue, symbol, timeframe, candles)
        if previous is not None:
            await self._stream.unsubscribe(_market_topics(*previous))
        await self._stream.subscribe(_market_topics(venue, symbol))

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self._market.book(venue, symbol)

    def ticker(self, venue: str, symbol: str) -> Ticker | None:
        return self._market.ticker(venue, symbol)

    def trades(self, venue: str, symbol: str) -> list[Trade]:
        return self._market.trades(venue, symbol)

    def candles(self, venue: str, symbol: str, timeframe: str) -> list[Candle]:
        return self._market.candles(venue, symbol, timeframe)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return self._market.mark(venue, symbol)

    def market_stats(self, venue: str, symbol: str) -> MarketStats | None:
        return self._market.stats(venue, symbol)

    def connection(self, venue: str) -> tuple[str, float | None]:
        found = next((v for v in self._status.venues if v.name == venue), None)
        return (found.connection, found.latency_ms) if found is not None else ("unknown", None)

    # -- the account ----------------------------------------------------------------------------
    @property
    def quote_currency(self) -> str:
        return self._status.quote_currency

    @property
    def maintenance_margin_rate(self) -> Decimal:
        return MAINTENANCE_MARGIN_RATE

    def equity(self) -> Decimal:
        return self._status.equity

    def daily_pnl(self) -> Decimal:
        return self._status.daily_pnl

    def positions(self) -> list[Position]:
        return list(self._mirror.positions.values())

    def position(self, venue: str, symbol: str) -> Position | None:
        return self._mirror.positions.get((venue, symbol))

    def leverage_in_use(self, venue: str, symbol: str) -> tuple[int, str]:
        """As the engine's portfolio says it: the open position's, else the configured default
        within the market's maximum."""
        instrument = self.instrument(venue, symbol)
        position = self.position(venue, symbol)
        if position is not None:
            return position.leverage, "open position"
        if self.trading.default_leverage > instrument.max_leverage:
            return instrument.max_leverage, "market maximum"
        return self.trading.default_leverage, "config default"

    def balances(self, venue: str) -> list[Balance]:
        return list(self._mirror.balances.get(venue, ()))

    def asset_value(self, venue: str, asset: str, amount: Decimal) -> Decimal | None:
        if asset == self.quote_currency:
            return amount
        market = next((i for i in self.instruments(venue) if i.base == asset and i.quote == self.quote_currency), None)
        price = self.mark(venue, market.symbol) if market is not None else None
        return None if price is None else amount * price

    def levels(self, venue: str, symbol: str) -> ProtectiveLevels | None:
        held = self._mirror.positions.get((venue, symbol))
        return held.levels if held is not None else None

    def holds_protective_orders(self, venue: str, symbol: str) -> bool:
        levels = self.levels(venue, symbol)
        return levels is not None and levels.placement is LevelPlacement.EXCHANGE

    def watched_levels(self) -> list[ProtectiveLevels]:
        return [p.levels for p in self._mirror.positions.values()
                if p.levels is not None and p.levels.placement is LevelPlacement.ENGINE and not p.levels.empty]

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return [o for o in self._mirror.orders.values()
                if (venue is None or o.venue == venue) and (symbol is None or o.symbol == symbol)]

    async def order_history(self, limit: int) -> list[Order]:
        return await self._client.order_history(limit=limit)

    async def fills(self, limit: int) -> list[Fill]:
        return await self._client.fills(limit=limit)

    async def all_fills(self) -> list[Fill]:
        return await _paged(self._client.fills, lambda fill: fill.fill_id)

    async def all_funding(self) -> list[FundingPayment]:
        return await _paged(self._client.funding, lambda paid: (paid.venue, paid.symbol, paid.ts))

    async def audit_entries(self, kind: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return (await self._client.audit(kind=kind, limit=limit)).entries

    # -- risk -----------------------------------------------------------------------------------
    @property
    def risk_state(self) -> RiskState:
        risk = self._mirror.risk
        return risk.state if risk is not None else self._status.risk_state

    @property
    def halted_by_person(self) -> bool:
        return self._by_person and self.risk_state is RiskState.HALTED

    def blockers(self) -> list[tuple[str, str]]:
        return list(self._status.blockers)

    def tripped_breakers(self) -> list[tuple[str, str]]:
        return [(trip.scope, trip.reason) for trip in self._status.breakers]

    def limits_usage(self) -> list[LimitUsage]:
        return list(self._status.limits)

    def orders_today(self) -> tuple[int, int]:
        return self._status.orders_today, self._status.max_orders_per_day

    def recent_alerts(self) -> list[RiskAlert]:
        risk = self._mirror.risk
        return list(risk.alerts) if risk is not None else []

    # -- agents and strategies ------------------------------------------------------------------
    def latest_decisions(self) -> list[AgentDecision]:
        return list(self._mirror.decisions.values())

    def strategies(self) -> list[StrategyInfo] | None:
        return list(self._mirror.strategies.values())

    async def start_strategy(self, strategy_id: str) -> None:
        with _refusals():
            self._mirror.strategies[strategy_id] = await self._client.start_strategy(strategy_id)

    async def stop_strategy(self, strategy_id: str) -> None:
        with _refusals():
            self._mirror.strategies[strategy_id] = await self._client.stop_strategy(strategy_id)

    async def set_strategy_params(self, strategy_id: str, params: dict[str, Any], note: str = "") -> None:
        with _refusals():
            self._mirror.strategies[strategy_id] = await self._client.set_strategy_params(strategy_id, params, note)

    # -- checks ---------------------------------------------------------------------------------
    async def check_order(self, request: OrderRequest) -> Refusal | None:
        with _refusals():
            result = await self._client.check_order(request)
        return None if result.ok else Refusal(result.reason or "refused", result.rule or "")

    async def check_cancel(self) -> Refusal | None:
        """The gateway authorizes the cancel itself; its refusal comes back with its words."""
        return None

    def check_modify(self, client_order_id: str, price: Decimal | None, size: Decimal | None) -> Refusal | None:
        return None

    def closing_request(self, venue: str, symbol: str) -> OrderRequest | None:
        """The market order the gateway sends to close the position (``/positions/close``), as
        the engine's executor builds it."""
        position = self.position(venue, symbol)
        if position is None or position.size == 0:
            return None
        instrument = self.instrument(venue, symbol)
        size = instrument.round_size(position.size)
        if size <= 0:
            return None
        side = Side.SELL if position.side is PositionSide.LONG else Side.BUY
        return OrderRequest(venue=venue, symbol=symbol, side=side, type=OrderType.MARKET, size=size,
                            time_in_force=TimeInForce.IOC, reduce_only=instrument.is_perpetual)

    # -- commands -------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> Order:
        with _refusals():
            return await self._client.place_order(request)

    async def modify_order(self, client_order_id: str, *, price: Decimal | None, size: Decimal | None) -> Order:
        with _refusals():
            return await self._client.modify_order(client_order_id, price, size)

    async def cancel_order(self, client_order_id: str) -> Order:
        with _refusals():
            return await self._client.cancel_order(client_order_id)

    async def cancel_all(self) -> int:
        with _refusals():
            return await self._client.cancel_all()

    async def close_position(self, venue: str, symbol: str) -> Order | None:
        with _refusals():
            return await self._client.close_position(symbol, venue)

    async def close_all(self) -> int:
        with _refusals():
            return await self._client.close_all()

    async def set_protection(self, venue: str, symbol: str, *, stop_loss: Decimal | None,
                             take_profit: Decimal | None) -> ProtectiveLevels | None:
        with _refusals():
            return await self._client.set_protection(symbol, venue, stop_loss, take_profit)

    async def emergency_stop(self, reason: str) -> None:
        with _refusals():
            await self._client.emergency_stop(reason)

    async def reset_risk(self) -> None:
        with _refusals():
            await self._client.reset_risk()


class _Moved(Exception):
    """The home announces the gateway at another address now."""

    def __init__(self, target: Target) -> None:
        super().__init__(target.url)
        self.target = target


def _market_topics(venue: str, symbol: str) -> list[str]:
    return [f"{kind}:{venue}:{symbol}" for kind in MARKET_TOPICS]


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The gateway's refusals as the engine raises them in-process, so a screen shows them the
    same way whichever session it has."""
    try:
        yield
    except NotAllowed as exc:
        raise PermissionDenied(exc.reason) from None
    except ApiError as exc:
        if exc.rule == "protection":
            raise ProtectionRefused(exc.reason) from None
        if isinstance(exc, BadRequest):
            raise ValueError(exc.reason) from None
        raise OrderRefused(exc.reason, exc.rule) from None


class _Stamped(Protocol):
    @property
    def ts(self) -> int: ...


R = TypeVar("R", bound=_Stamped)


async def _paged(read: Callable[..., Awaitable[list[R]]], key: Callable[[R], Hashable]) -> list[R]:
    """Every row of a listing (fills, funding payments), paged back from the newest a page at a
    time as the API gives them; a page's oldest instant is asked again (the bound is exclusive)
    and its rows kept once by ``key``."""
    found: dict[Hashable, R] = {}
    until: int | None = None
    while True:
        page = await read(limit=MAX_PAGE, **({} if until is None else {"until_ms": until}))
        fresh = [row for row in page if key(row) not in found]
        found.update((key(row), row) for row in fresh)
        if len(page) < MAX_PAGE or not fresh:
            return sorted(found.values(), key=lambda row: row.ts)
        until = min(row.ts for row in page) + 1
