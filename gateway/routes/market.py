"""Markets and market data: instruments, order books, trades, candles, tickers, the data
service's readings."""

from __future__ import annotations

from core.api import BookQuery, CandlesQuery, MarketQuery, TradesQuery
from core.models import Candle, Instrument, MarketStats, OrderBook, Ticker, Trade
from gateway.routing import Call, Routes, not_found

routes = Routes("market data")


def _market(call: Call, query: MarketQuery) -> tuple[str, str]:
    venue = call.venue
    if venue not in call.engine.venues:
        raise not_found(f"venue '{venue}' is not configured; configured: {', '.join(call.engine.venue_names)}")
    call.engine.instrument(venue, query.symbol)  # refused as unknown_market (404) when not listed
    return venue, query.symbol


@routes.route("GET", "/markets", summary="Every market of every venue", response=list[Instrument])
async def markets(call: Call) -> list[Instrument]:
    return [instrument for venue in call.engine.venue_names for instrument in call.engine.instruments(venue)]


@routes.route("GET", "/book", summary="Order book snapshot", response=OrderBook, query=BookQuery)
async def book(call: Call) -> OrderBook:
    venue, symbol = _market(call, call.query)
    found = call.engine.market.book(venue, symbol)
    if found is None:
        raise not_found(f"no order book for {symbol} on {venue} yet")
    depth = call.query.depth
    return found.model_copy(update={"bids": found.bids[:depth], "asks": found.asks[:depth]})


@routes.route("GET", "/stats", summary="The data service's latest reading of a market (funding, open interest, "
              "long/short); null before the first", response=MarketStats | None, query=MarketQuery)
async def stats(call: Call) -> MarketStats | None:
    venue, symbol = _market(call, call.query)
    return call.engine.market.stats(venue, symbol)


@routes.route("GET", "/trades", summary="Recent public trades, oldest first", response=list[Trade], query=TradesQuery)
async def trades(call: Call) -> list[Trade]:
    venue, symbol = _market(call, call.query)
    return call.engine.market.trades(venue, symbol)[-call.query.limit:]


@routes.route("GET", "/candles", summary="Candles built from the trades, oldest first (the last one is open)",
              response=list[Candle], query=CandlesQuery)
async def candles(call: Call) -> list[Candle]:
    venue, symbol = _market(call, call.query)
    return call.engine.market.candles(venue, symbol, call.query.timeframe)[-call.query.limit:]


@routes.route("GET", "/tickers", summary="The latest ticker of every market that has one", response=list[Ticker])
async def tickers(call: Call) -> list[Ticker]:
    engine = call.engine
    found = (engine.market.ticker(venue, i.symbol) for venue in engine.venue_names for i in engine.instruments(venue))
    return [ticker for ticker in found if ticker is not None]
