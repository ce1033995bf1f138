"""The account: status, balances, positions, orders (open, one, history), fills and funding payments."""

from __future__ import annotations

from core.api import FillsQuery, FundingQuery, Health, HistoryQuery, OrdersQuery, Settings, VenueQuery
from core.models import Fill, FundingPayment, Order
from core.views import (
    AccountSnapshot,
    PositionView,
    StatusView,
    VenueBalances,
    account_snapshot,
    balances_view,
    positions_view,
    status_view,
)
from gateway.routing import Call, Routes, not_found

routes = Routes("account")


def _known_venue(call: Call) -> str | None:
    venue = getattr(call.query, "venue", None)
    if venue is not None and venue not in call.engine.venues:
        raise not_found(f"venue '{venue}' is not configured; configured: {', '.join(call.engine.venue_names)}")
    return venue


@routes.route("GET", "/health", summary="The gateway answers; the caller's name and level", response=Health)
async def health(call: Call) -> Health:
    level = call.engine.guard.permissions.level_of(call.actor)
    return Health(engine="running" if call.engine.running else "stopped", epoch=call.hub.epoch,
                  actor=str(call.actor), level=level.label)


@routes.route("GET", "/settings", summary="The trading and interface settings a front end shows", response=Settings)
async def settings(call: Call) -> Settings:
    config = call.engine.config
    return Settings(trading=config.trading, ui=config.ui, agents_enabled=config.agents.enabled,
                    agents_venue=config.agents.venue)


@routes.route("GET", "/status", summary="Engine, venues, equity, daily PnL, risk state", response=StatusView)
async def status(call: Call) -> StatusView:
    return status_view(call.engine)


@routes.route("GET", "/snapshot", summary="Everything a front end mirrors, at one moment", response=AccountSnapshot)
async def snapshot(call: Call) -> AccountSnapshot:
    return account_snapshot(call.engine)


@routes.route("GET", "/balances", summary="Balances per venue", response=list[VenueBalances], query=VenueQuery)
async def balances(call: Call) -> list[VenueBalances]:
    return balances_view(call.engine, _known_venue(call))


@routes.route("GET", "/positions", summary="Open positions with their stop-loss and take-profit levels",
              response=list[PositionView], query=VenueQuery)
async def positions(call: Call) -> list[PositionView]:
    return positions_view(call.engine, _known_venue(call))


@routes.route("GET", "/orders", summary="Open orders", response=list[Order], query=OrdersQuery)
async def open_orders(call: Call) -> list[Order]:
    return call.engine.open_orders(_known_venue(call), call.query.symbol)


@routes.route("GET", "/orders/history", summary="Orders of any status, newest last", response=list[Order],
              query=HistoryQuery)
async def order_history(call: Call) -> list[Order]:
    q = call.query
    return await call.engine.order_history(
        venue=_known_venue(call), symbol=q.symbol, strategy_id=q.strategy_id,
        status=[q.status.value] if q.status is not None else None, since_ms=q.since_ms, until_ms=q.until_ms,
        limit=q.limit,
    )


@routes.route("GET", "/orders/{client_order_id}", summary="One order by its client order id", response=Order)
async def order(call: Call) -> Order:
    client_order_id = call.params["client_order_id"]
    found = await call.engine.orders.get(client_order_id)
    if found is None:
        raise not_found(f"no order {client_order_id}")
    return found


@routes.route("GET", "/fills", summary="Fills, newest last", response=list[Fill], query=FillsQuery)
async def fills(call: Call) -> list[Fill]:
    q = call.query
    return await call.engine.fills(venue=_known_venue(call), symbol=q.symbol, strategy_id=q.strategy_id,
                                   client_order_id=q.client_order_id, since_ms=q.since_ms, until_ms=q.until_ms,
                                   limit=q.limit)


@routes.route("GET", "/funding", summary="Funding payments on perpetual positions, newest last",
              response=list[FundingPayment], query=FundingQuery)
async def funding(call: Call) -> list[FundingPayment]:
    q = call.query
    return await call.engine.db.load_funding(venue=_known_venue(call), symbol=q.symbol, since_ms=q.since_ms,
                                             until_ms=q.until_ms, limit=q.limit)
