"""Any exchange ccxt supports, behind the ``ExchangeAdapter`` port.

Public data (markets, books, trades, tickers, candles) always comes from the exchange. Orders,
balances and positions come from the exchange in ``live`` mode, and from a simulated account
filling against the live book in ``paper`` mode, where no credentials are given to ccxt, so no
private request can leave this process.

Configuration (``CcxtVenueConfig``) beyond the obvious keys:
- ``api_urls``: ``{"*": "https://proxy.example"}`` moves every REST and websocket URL to another
  host (paths kept); a named entry (``public``, ``ws.spot``) replaces that one URL.
- ``options``: ccxt's exchange options (``defaultType``, ``marginMode: isolated|cross``, which is
  also set once per perpetual before its first order), plus ``rateLimit`` / ``enableRateLimit``,
  which are attributes of the ccxt exchange rather than options.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from core.config import CcxtVenueConfig
from core.events import EventBus, ExecutionReported, OrderBookUpdated, TickerUpdated, TradePrinted
from core.models import (
    Balance,
    Candle,
    ExecutionReport,
    Instrument,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    Position,
    Trade,
)
from core.ports import Capability, Clock, OrderNotFound, VenueError
from core.redact import redact
from core.secrets import Credentials, how_to_set
from exchanges.ccxt import client, mapping
from exchanges.ccxt.book import BookView, LatestBooks
from exchanges.ccxt.capabilities import holds_protective_orders
from exchanges.ccxt.derivatives import DerivativesReads
from exchanges.ccxt.errors import AMBIGUOUS, Caller, Failure, RetryPolicy, classify, describe, to_venue_error
from exchanges.ccxt.markets_cache import MarketsCache
from exchanges.ccxt.orders import OrderTracker
from exchanges.ccxt.paper import PaperAccount
from exchanges.ccxt.streams import StreamPolicy, StreamSpec, StreamSupervisor

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R", Order, OrderRequest)
BOOK_DEPTH = 20


class CcxtVenue(DerivativesReads):
    def __init__(
        self,
        name: str,
        config: CcxtVenueConfig,
        clock: Clock,
        cache_dir: Path,
        credentials: Credentials | None = None,
        *,
        live_confirmed: bool = False,
        retry: RetryPolicy | None = None,
        streams: StreamPolicy | None = None,
    ) -> None:
        """A live venue needs complete credentials for any private request, and the person's
        explicit go-ahead (typed in the TUI: ``live_confirmed`` or ``confirm_live()``) before it
        sends a new order."""
        self.name = name
        self.mode: str = config.mode
        self.config = config
        self.clock = clock
        self.live_confirmed = live_confirmed
        self._credentials = credentials
        self._cache = MarketsCache(
            cache_dir / f"markets-{config.exchange}{'-sandbox' if config.sandbox else ''}.json",
            config.markets_cache_max_age,
            clock,
        )
        self._retry = retry or RetryPolicy()
        self._stream_policy = streams or StreamPolicy(poll_interval=config.poll_interval)
        self._exchange: Any = None
        self._caller: Caller | None = None
        self._bus: EventBus | None = None
        self._streams: StreamSupervisor | None = None
        self.instruments: dict[str, Instrument] = {}
        self.books = LatestBooks()
        self._book_views: dict[str, BookView] = {}
        self.tracker = OrderTracker(name)
        self._seen_trades: dict[str, tuple[int, set[str]]] = {}
        self._margin_mode_set: set[str] = set()
        self._paper = PaperAccount(name, config.balances, clock) if self.mode == "paper" else None

    # -- plumbing -------------------------------------------------------------------------

    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            try:
                creds = self._credentials if self.mode == "live" else None
                self._exchange = client.build_exchange(self.config, creds)
            except ValueError as exc:
                raise VenueError(f"{self.name}: {redact(str(exc))}") from None
            self._caller = Caller(
                self.name, self.clock, self._retry, lambda: client.retry_after_seconds(self._exchange)
            )
        return self._exchange

    @property
    def caller(self) -> Caller:
        self.exchange  # noqa: B018 - builds the caller with the exchange
        assert self._caller is not None
        return self._caller

    @property
    def connection_state(self) -> str:
        return self._streams.state if self._streams else "disconnected"

    async def _read(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await self.caller.call(what, fn)

    def _require_credentials(self) -> None:
        """Private reads and cancels: a live venue with complete credentials."""
        if self.mode != "live":
            raise VenueError(f"{self.name}: paper mode never sends private requests")
        if self._credentials is None or not self._credentials.complete:
            raise VenueError(f"{self.name}: live mode needs API credentials: {how_to_set(self.name)}")

    def _require_confirmed(self) -> None:
        """New orders also need the person's typed confirmation (``confirm_live``); reading the
        account and cancelling, which reconciliation and an emergency stop need, do not."""
        self._require_credentials()
        if not self.live_confirmed:
            raise VenueError(f"{self.name}: live trading has not been confirmed; confirm it in the app first")

    def supports(self, capability: Capability) -> bool:
        if capability is Capability.FUNDING_PAYMENTS:
            return self._pays_funding()
        return capability is Capability.LIVE_CONFIRMATION and self.mode == "live"

    def confirm_live(self) -> None:
        """The person typed the confirmation: orders may now be sent to the exchange."""
        self.live_confirmed = True
        log.warning("%s: live trading confirmed on %s", self.name, self.config.exchange)

    def _wire(self, client_order_id: str) -> str:
        return client.to_wire(self.config.exchange, client_order_id)

    def _client_id(self, order: dict[str, Any]) -> str:
        return client.from_wire(self.config.exchange, order.get("clientOrderId")) or str(order.get("id"))

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, bus: EventBus) -> None:
        self._bus = bus
        self._streams = StreamSupervisor(self.name, bus, self.clock, self._stream_policy)
        if self.mode == "live":
            self._require_credentials()
        if not self.instruments:
            await self.load_instruments()
        if self._paper is not None:
            self._paper.attach(bus, self.instruments)
        await self.subscribe(list(self.config.markets))
        if self.mode == "live":
            self._start_order_stream()

    async def stop(self) -> None:
        if self._streams is not None:
            await self._streams.stop()
        if self._exchange is not None:
            await self._exchange.close()
            self._exchange = None

    # -- markets --------------------------------------------------------------------------

    async def load_instruments(self) -> list[Instrument]:
        """The configured markets' instruments. Every spot and linear perpetual market of the
        exchange stays known (``instrument``), but only the configured ones are returned, since
        the engine subscribes to what this returns."""
        exchange = self.exchange
        cached = self._cache.load()
        if cached is not None:
            markets, currencies = cached
            exchange.set_markets(markets, currencies or None)
        else:
            await self._read("load markets", exchange.load_markets)
            self._cache.save(list(exchange.markets.values()), dict(exchange.currencies or {}))
        self.instruments = {}
        for market in exchange.markets.values():
            instrument = mapping.instrument_from_market(self.name, market, exchange.precisionMode)
            if instrument is not None:
                self.instruments[instrument.symbol] = instrument
        return [self.instrument(symbol) for symbol in self.config.markets]

    def instrument(self, symbol: str) -> Instrument:
        instrument = self.instruments.get(symbol)
        if instrument is not None:
            return instrument
        market = (self._exchange.markets or {}).get(symbol) if self._exchange is not None else None
        if market is not None:
            raise VenueError(f"{self.name}: {symbol} is a {market.get('type')} market; only spot and linear perpetuals are supported")
        close = difflib.get_close_matches(symbol, list(self.instruments), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise VenueError(f"{self.name}: no market {symbol} on {self.config.exchange}{hint}")

    # -- rounding and limits, before risk checks --------------------------------------------

    def round_order(self, order: R) -> R:
        """The request or order with size and prices rounded by ccxt's own precision rules
        (what the exchange will accept), so that risk checks see the numbers that will be sent.
        Sizes are truncated, prices rounded, as ccxt does."""
        self.instrument(order.symbol)
        exchange = self.exchange
        try:
            update: dict[str, Any] = {"size": Decimal(exchange.amount_to_precision(order.symbol, str(order.size)))}
            for field in ("price", "trigger_price", "take_profit", "stop_loss"):
                value = getattr(order, field)
                if value is not None:
                    update[field] = Decimal(exchange.price_to_precision(order.symbol, str(value)))
        except Exception as exc:  # noqa: BLE001 - ccxt raises InvalidOrder for sizes below precision
            raise VenueError(f"{self.name}: {describe(exc)}") from None
        return order.model_copy(update=update)

    def reference_price(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return book.mid if book is not None else None

    def order_problem(self, order: Order) -> str | None:
        """Why the exchange would refuse this order for its size, or None."""
        market = self.exchange.market(order.symbol)
        limits = market.get("limits") or {}
        size = order.size
        min_amount = mapping.dec((limits.get("amount") or {}).get("min"))
        max_amount = mapping.dec((limits.get("amount") or {}).get("max"))
        if size <= 0:
            return "size must be greater than 0 after rounding to the exchange's precision"
        if min_amount is not None and size < min_amount:
            return f"size {size} is below {self.config.exchange}'s minimum {min_amount.normalize():f} for {order.symbol}"
        if max_amount is not None and max_amount > 0 and size > max_amount:
            return f"size {size} is above {self.config.exchange}'s maximum {max_amount.normalize():f} for {order.symbol}"
        min_cost = mapping.dec((limits.get("cost") or {}).get("min"))
        price = order.price or order.trigger_price or self.reference_price(order.symbol)
        if min_cost is not None and min_cost > 0 and price is not None:
            notional = size * price * (mapping.dec(market.get("contractSize")) or Decimal(1))
            if notional < min_cost:
                return (
                    f"notional {notional.normalize():f} {market['quote']} is below {self.config.exchange}'s "
                    f"minimum {min_cost.normalize():f} {market['quote']} for {order.symbol}"
                )
        return None

    def _rejected(self, order: Order, reason: str) -> ExecutionReport:
        log.info("%s: rejected %s before sending: %s", self.name, order.client_order_id, reason)
        return ExecutionReport(
            client_order_id=order.client_order_id,
            venue=self.name,
            symbol=order.symbol,
            status=OrderStatus.REJECTED,
            reason=reason,
            ts=self.clock.now_ms(),
        )

    def holds_protective_orders(self, symbol: str) -> bool:
        """Live perpetuals on an exchange that keeps reduce-only stops by our client order id.
        Not spot, which has no reduce-only: a stop and a take-profit selling the whole holding
        would each lock it. Not paper mode, simulated inside the app."""
        return (
            self.mode == "live"
            and self.instrument(symbol).is_perpetual
            and holds_protective_orders(self.config.exchange, self.exchange.has)
        )

    # -- market data ----------------------------------------------------------------------

    async def subscribe(self, symbols: list[str]) -> None:
        if self._streams is None:
            raise VenueError(f"{self.name}: start the venue before subscribing")
        for symbol in symbols:
            self.instrument(symbol)
            for spec in self._market_streams(symbol):
                self._streams.start(spec)

    def _market_streams(self, symbol: str) -> list[StreamSpec]:
        exchange = self.exchange
        has = exchange.has

        def ws(feature: str, fetch: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]] | None:
            return fetch if has.get(feature) else None

        specs = [
            # No depth for the websocket: exchanges accept only their own set (Bybit: 1, 50,
            # 200...), and the top levels are cut here anyway.
            StreamSpec(f"book:{symbol}", ws("watchOrderBook", partial(exchange.watch_order_book, symbol)),
                       partial(exchange.fetch_order_book, symbol, BOOK_DEPTH), partial(self._on_book, symbol)),
            StreamSpec(f"trades:{symbol}", ws("watchTrades", partial(exchange.watch_trades, symbol)),
                       partial(exchange.fetch_trades, symbol), partial(self._on_trades, symbol)),
        ]
        if has.get("fetchTicker") or has.get("watchTicker"):
            poll = partial(exchange.fetch_ticker, symbol) if has.get("fetchTicker") else None
            specs.append(StreamSpec(f"ticker:{symbol}", ws("watchTicker", partial(exchange.watch_ticker, symbol)),
                                    poll, self._on_ticker))
        return specs

    def _on_book(self, symbol: str, raw: dict[str, Any]) -> None:
        """``raw`` is ccxt.pro's own book after a message (or a polled snapshot): ccxt has
        already applied the deltas in sequence; the top levels are converted when the book is
        first read (at once in paper mode, whose account reads every book)."""
        view = self._book_views.get(symbol)
        if view is None:
            view = self._book_views[symbol] = BookView(self.name, symbol, BOOK_DEPTH)
        if self._paper is None:
            event = view.later(raw, self.clock)
        else:
            event = OrderBookUpdated(view.convert(raw, self.clock))
            self._paper.on_book(event.book)
        self.books.events[symbol] = event
        if self._bus is not None:
            self._bus.publish(event)

    def _on_trades(self, symbol: str, raw: list[dict[str, Any]]) -> None:
        """Publish trades not seen before: polls return the latest trades again, and a
        websocket may repeat some after a reconnect. Seen = older than the newest timestamp,
        or at that timestamp with a known id."""
        newest, ids = self._seen_trades.get(symbol, (-1, set()))
        for item in sorted(raw, key=lambda t: t.get("timestamp") or 0):
            ts, trade_id = item.get("timestamp") or 0, str(item.get("id"))
            if ts < newest or (ts == newest and trade_id in ids):
                continue
            if ts > newest:
                newest, ids = ts, set()
            ids.add(trade_id)
            trade = mapping.trade_from_ccxt(self.name, item)
            if self._paper is not None:
                self._paper.on_trade(trade)
            if self._bus is not None:
                self._bus.publish(TradePrinted(trade))
        self._seen_trades[symbol] = (newest, ids)

    def _on_ticker(self, raw: dict[str, Any]) -> None:
        if self._bus is not None:
            self._bus.publish(TickerUpdated(mapping.ticker_from_ccxt(self.name, raw, self.clock.now_ms())))

    def _start_order_stream(self) -> None:
        """Own orders: the exchange's order stream where it has one, and in any case a poll of
        the orders still open, because a user stream that silently stops looks like a quiet
        market (Hummingbot does the same)."""
        assert self._streams is not None
        exchange = self.exchange
        if exchange.has.get("watchOrders"):
            self._streams.start(StreamSpec(key="orders:stream", watch=exchange.watch_orders, poll=None,
                                           handle=self._on_orders))
        self._streams.start(StreamSpec(key="orders:poll", watch=None, poll=self._poll_open_orders,
                                       handle=self._on_orders))

    async def _poll_open_orders(self) -> list[dict[str, Any]]:
        orders = []
        for coid, symbol in list(self.tracker.open.items()):
            try:
                orders.append(await self.exchange.fetch_order(None, symbol, self._lookup_params(coid)))
            except Exception as exc:  # noqa: BLE001
                if classify(exc) is not Failure.NOT_FOUND:
                    raise
        return orders

    def _on_orders(self, raw: list[dict[str, Any]]) -> None:
        for item in raw:
            report = self.tracker.report(item, self._client_id(item), self.clock.now_ms())
            if self._bus is not None:
                self._bus.publish(ExecutionReported(report))

    async def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        self.instrument(symbol)
        raw = await self._read("fetch order book", lambda: self.exchange.fetch_order_book(symbol, depth))
        return mapping.book_from_ccxt(self.name, symbol, raw, depth, self.clock.now_ms())

    async def fetch_trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        self.instrument(symbol)
        raw = await self._read("fetch trades", lambda: self.exchange.fetch_trades(symbol, None, limit))
        return [mapping.trade_from_ccxt(self.name, t) for t in raw]

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Up to ``limit`` candles from ``since``, or the latest ``limit``. More than the exchange
        answers at once (its ``fetchOHLCV`` limit in ccxt's features: Binance 1,000, OKX 300)
        come in pages, oldest first, so the agents' warm-up gets its whole history."""
        instrument = self.instrument(symbol)
        if timeframe not in (self.exchange.timeframes or {}):
            known = ", ".join(self.exchange.timeframes or {}) or "none"
            raise VenueError(f"{self.name}: timeframe '{timeframe}' is not offered by {self.config.exchange} (offered: {known})")
        page = self._ohlcv_page(instrument)
        if limit <= page:
            rows = await self._read("fetch candles", lambda: self.exchange.fetch_ohlcv(symbol, timeframe, since, limit))
            return [mapping.candle_from_ccxt(row) for row in rows]
        step = int(self.exchange.parse_timeframe(timeframe) * 1000)
        # one candle more than asked when counting back from now: the current one may not be there yet
        start = since if since is not None else self.clock.now_ms() - (limit + 1) * step
        candles: list[Candle] = []
        for _ in range(limit // page + 2):  # counted back from now, `limit` may straddle one more page
            wanted = page if since is None else min(page, limit - len(candles))

            def fetch_page(at: int = start, n: int = wanted) -> Awaitable[Any]:  # self.exchange read on each try
                return self.exchange.fetch_ohlcv(symbol, timeframe, at, n)

            rows = await self._read("fetch candles", fetch_page)
            fresh = [c for c in map(mapping.candle_from_ccxt, rows) if not candles or c.ts > candles[-1].ts]
            candles.extend(fresh)
            if len(rows) < wanted or not fresh or (since is not None and len(candles) >= limit):
                break
            start = candles[-1].ts + step
        return candles[:limit] if since is not None else candles[-limit:]

    def _ohlcv_page(self, instrument: Instrument) -> int:
        """Candles the exchange answers per request, as ccxt knows it (500 when it does not)."""
        features = self.exchange.features or {}
        market = (features.get("swap") or {}).get("linear") if instrument.is_perpetual else features.get("spot")
        found = ((market or {}).get("fetchOHLCV") or {}).get("limit")
        return int(found) if found else 500

    # -- account --------------------------------------------------------------------------

    async def fetch_balances(self) -> list[Balance]:
        if self._paper is not None:
            return self._paper.balances()
        self._require_credentials()
        raw = await self._read("fetch balance", self.exchange.fetch_balance)
        return mapping.balances_from_ccxt(raw)

    def _perpetual_symbols(self) -> list[str]:
        return [s for s in self.config.markets if self.instrument(s).is_perpetual]

    async def fetch_positions(self) -> list[Position]:
        if self._paper is not None:
            return self._paper.positions()
        self._require_credentials()
        symbols = self._perpetual_symbols()
        if not symbols or not self.exchange.has.get("fetchPositions"):
            return []
        raw = await self._read("fetch positions", lambda: self.exchange.fetch_positions(symbols))
        now = self.clock.now_ms()
        return [p for p in (mapping.position_from_ccxt(self.name, item, now) for item in raw) if p is not None]

    async def fetch_open_orders(self) -> list[ExecutionReport]:
        if self._paper is not None:
            return self._paper.open_orders()
        self._require_credentials()
        reports: list[ExecutionReport] = []
        for symbol in self.config.markets:
            raw = await self._read("fetch open orders", partial(self.exchange.fetch_open_orders, symbol))
            reports.extend(self.tracker.report(o, self._client_id(o), self.clock.now_ms()) for o in raw)
        return reports

    def _lookup_params(self, client_order_id: str) -> dict[str, Any]:
        return client.lookup_params(self.config.exchange, client_order_id)

    async def fetch_order(self, client_order_id: str, symbol: str) -> ExecutionReport | None:
        if self._paper is not None:
            return self._paper.order(client_order_id)
        self._require_credentials()
        self.instrument(symbol)
        try:
            raw = await self._read(
                "fetch order",
                lambda: self.exchange.fetch_order(None, symbol, self._lookup_params(client_order_id)),
            )
        except OrderNotFound:
            return None
        return self.tracker.report(raw, client_order_id, self.clock.now_ms())

    # -- orders ---------------------------------------------------------------------------

    async def create_order(self, order: Order) -> ExecutionReport:
        """Validated and rounded here, refused locally when too small or unsupported, then sent
        once. A timeout or unreadable answer is resolved by looking the order up by its client
        order id before it is ever sent again."""
        self.instrument(order.symbol)
        order = self.round_order(order)
        problem = self.order_problem(order)
        if problem is not None:
            return self._rejected(order, problem)
        try:
            args = self._order_args(order)
        except mapping.UnsupportedOrder as exc:
            return self._rejected(order, str(exc))
        if self._paper is not None:
            return self._paper.submit(order)
        self._require_confirmed()
        await self._apply_margin_mode(order.symbol)
        await self._apply_leverage(order)
        for attempt in range(2):
            self.caller.check_breaker()
            try:
                raw = await self.exchange.create_order(order.symbol, *args)
            except Exception as exc:  # noqa: BLE001 - classified: refused, or unknown outcome
                self.caller.record(exc)
                if classify(exc) not in AMBIGUOUS:
                    return self._refused(order, exc)
                log.warning("%s: create %s: %s; looking it up before anything else",
                            self.name, order.client_order_id, describe(exc))
                found = await self.fetch_order(order.client_order_id, order.symbol)
                if found is not None:
                    return found
                if attempt == 1:
                    return self._unknown(order, exc)
                continue
            self.caller.record(None)
            return self._ack(raw, order)
        raise AssertionError("unreachable")

    def _order_args(self, order: Order) -> tuple[str, str, float, float | None, dict[str, Any]]:
        """``exchange.create_order``'s arguments after the symbol; UnsupportedOrder when the
        exchange cannot take this order."""
        return mapping.ccxt_order_args(
            order, self.exchange.has, self.config.exchange, self._wire(order.client_order_id),
            self.reference_price(order.symbol),
        )

    def _ack(self, raw: dict[str, Any], order: Order) -> ExecutionReport:
        raw = {**raw, "symbol": raw.get("symbol") or order.symbol, "side": raw.get("side") or order.side.value}
        if raw.get("status") is None:
            raw["status"] = "open"
        return self.tracker.report(raw, order.client_order_id, self.clock.now_ms())

    def _refused(self, order: Order, exc: Exception) -> ExecutionReport:
        error = to_venue_error(exc, self.name)
        if error.retryable:
            raise error
        return self._rejected(order, str(error))

    def _unknown(self, order: Order, exc: Exception) -> ExecutionReport:
        """Sent twice without an answer and not found: say so; start-up reconciliation or the
        order stream settles it. Never a third send."""
        reason = f"no answer from {self.config.exchange} ({describe(exc)}) and not found by client order id; state unknown"
        self.tracker.open[order.client_order_id] = order.symbol
        return ExecutionReport(
            client_order_id=order.client_order_id, venue=self.name, symbol=order.symbol,
            status=OrderStatus.PENDING_NEW, reason=reason, ts=self.clock.now_ms(),
        )

    async def _apply_margin_mode(self, symbol: str) -> None:
        """The config's ``options: {marginMode: isolated|cross}``, set once per perpetual before
        its first order (ccxt also reads it from its options on exchanges that take it per order)."""
        mode = self.config.options.get("marginMode")
        if mode is None or symbol in self._margin_mode_set or not self.instrument(symbol).is_perpetual:
            return
        if mode not in ("isolated", "cross"):
            raise VenueError(f"{self.name}: options.marginMode must be 'isolated' or 'cross', not {mode!r}")
        if not self.exchange.has.get("setMarginMode"):
            raise VenueError(f"{self.name}: {self.config.exchange} does not support setting the margin mode through ccxt")

        async def set_mode() -> None:
            import ccxt  # noqa: PLC0415 - already loaded with the exchange

            try:
                await self.exchange.set_margin_mode(mode, symbol)
            except ccxt.NoChange:
                return

        await self._read("set margin mode", set_mode)
        self._margin_mode_set.add(symbol)

    async def _apply_leverage(self, order: Order) -> None:
        if order.leverage is None or not self.instrument(order.symbol).is_perpetual:
            return
        if not self.exchange.has.get("setLeverage"):
            raise VenueError(f"{self.name}: {self.config.exchange} does not support setting leverage through ccxt")
        await self._read("set leverage", lambda: self.exchange.set_leverage(order.leverage, order.symbol))

    async def cancel_order(self, client_order_id: str, symbol: str) -> ExecutionReport:
        if self._paper is not None:
            return self._paper.cancel(client_order_id)
        self._require_credentials()
        self.instrument(symbol)
        try:
            raw = await self._read(
                "cancel order",
                lambda: self.exchange.cancel_order(None, symbol, self._lookup_params(client_order_id)),
            )
        except OrderNotFound:
            found = await self.fetch_order(client_order_id, symbol)
            if found is None:
                raise
            return found
        if not raw.get("status") or raw.get("symbol") is None:
            found = await self.fetch_order(client_order_id, symbol)
            if found is not None:
                return found
            raw = {**raw, "status": "canceled", "symbol": symbol}
        return self.tracker.report(raw, client_order_id, self.clock.now_ms())
