"""The gateway's REST API as methods returning the core's models.

A refusal raises ``Refused`` with the engine's reason, exactly as the app would show it; a
gateway that does not answer raises ``NoGateway`` saying whether the home's announcement is
left from a process that has ended.
"""

from __future__ import annotations

import os
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar, cast

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError

from client.discovery import Target
from client.errors import NoGateway, ServerError, api_error
from core.api import (
    API_PREFIX,
    AuditPage,
    Batch,
    CancelAll,
    CheckResult,
    ClosePosition,
    Count,
    EmergencyStop,
    ErrorBody,
    Health,
    ModifyOrder,
    SetProtection,
    Settings,
    StrategyParams,
    StrategyVersion,
)
from core.events import AgentDecision, RiskAlert
from core.executor import BatchResult, Operation
from core.models import (
    Candle,
    Fill,
    FundingPayment,
    Instrument,
    MarketStats,
    Order,
    OrderBook,
    OrderRequest,
    ProtectiveLevels,
    Ticker,
    Trade,
)
from core.risk.breakers import Trip
from core.risk.gauges import LimitUsage
from core.storage.audit import AuditVerification
from core.strategies.info import StrategyInfo
from core.views import AccountSnapshot, PositionView, RiskView, StatusView, VenueBalances

T = TypeVar("T")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(answer: Any) -> TypeAdapter[Any]:
    """One adapter per answer type, kept: a dict, as functools.cache's Hashable bound is not met
    by a class object for mypy."""
    adapter = _ADAPTERS.get(answer)
    if adapter is None:
        adapter = _ADAPTERS[answer] = TypeAdapter(answer)
    return adapter


class GatewayClient:
    """Use as ``async with GatewayClient(target) as gateway:``."""

    def __init__(self, target: Target, *, timeout: float = 30.0) -> None:
        self.target = target
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.target.token}"}, timeout=self._timeout,
                connector=aiohttp.TCPConnector(ssl=self.target.ssl_context() or True),
            )
        return self._session

    async def retarget(self, target: Target) -> None:
        """Talk to ``target`` from now on: the home's gateway restarted with a new local token."""
        await self.close()
        self.target = target

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def unreachable(self, exc: BaseException) -> NoGateway:
        """Why nobody answers, naming a stale announcement in the home."""
        announced = self.target.announced
        if announced is None:
            return NoGateway(f"no gateway answers at {self.target.url} ({exc})")
        if not _running(announced.pid):
            return NoGateway(f"no gateway is running: the announcement at {self.target.url} is left from PID "
                             f"{announced.pid}, which has ended (start one with 'opentrade gateway')")
        return NoGateway(f"the gateway at {self.target.url} (PID {announced.pid}) does not answer ({exc})")

    async def request(self, method: str, path: str, answer: type[T], *, body: BaseModel | None = None,
                      query: dict[str, Any] | None = None) -> T:
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        data = body.model_dump_json(exclude_none=True) if body is not None else None
        try:
            async with self.session.request(method, self.target.url + API_PREFIX + path, params=params, data=data,
                                            headers={"Content-Type": "application/json"} if data else None) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise self.unreachable(exc) from None
        if status >= 400:
            try:
                error = ErrorBody.model_validate_json(raw)
            except ValidationError:
                raise ServerError(status, "internal", f"HTTP {status} from {self.target.url}: {raw[:200]!r}") from None
            raise api_error(status, error.error, error.reason, error.rule)
        return cast(T, _adapter(answer).validate_json(raw))

    # -- reading ------------------------------------------------------------------------------

    async def health(self) -> Health:
        return await self.request("GET", "/health", Health)

    async def settings(self) -> Settings:
        return await self.request("GET", "/settings", Settings)

    async def status(self) -> StatusView:
        return await self.request("GET", "/status", StatusView)

    async def snapshot(self) -> AccountSnapshot:
        return await self.request("GET", "/snapshot", AccountSnapshot)

    async def markets(self) -> list[Instrument]:
        return await self.request("GET", "/markets", list[Instrument])

    async def book(self, symbol: str, venue: str | None = None, depth: int = 20) -> OrderBook:
        return await self.request("GET", "/book", OrderBook, query={"symbol": symbol, "venue": venue, "depth": depth})

    async def stats(self, symbol: str, venue: str | None = None) -> MarketStats | None:
        optional: Any = MarketStats | None  # a union is no type[T]: the answer is checked all the same
        return cast("MarketStats | None", await self.request("GET", "/stats", optional,
                                                              query={"symbol": symbol, "venue": venue}))

    async def trades(self, symbol: str, venue: str | None = None, limit: int = 100) -> list[Trade]:
        return await self.request("GET", "/trades", list[Trade], query={"symbol": symbol, "venue": venue, "limit": limit})

    async def candles(self, symbol: str, venue: str | None = None, timeframe: str = "1m", limit: int = 500) -> list[Candle]:
        query = {"symbol": symbol, "venue": venue, "timeframe": timeframe, "limit": limit}
        return await self.request("GET", "/candles", list[Candle], query=query)

    async def tickers(self) -> list[Ticker]:
        return await self.request("GET", "/tickers", list[Ticker])

    async def balances(self, venue: str | None = None) -> list[VenueBalances]:
        return await self.request("GET", "/balances", list[VenueBalances], query={"venue": venue})

    async def positions(self, venue: str | None = None) -> list[PositionView]:
        return await self.request("GET", "/positions", list[PositionView], query={"venue": venue})

    async def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return await self.request("GET", "/orders", list[Order], query={"venue": venue, "symbol": symbol})

    async def order(self, client_order_id: str) -> Order:
        return await self.request("GET", f"/orders/{client_order_id}", Order)

    async def order_history(self, **query: Any) -> list[Order]:
        return await self.request("GET", "/orders/history", list[Order], query=query)

    async def fills(self, **query: Any) -> list[Fill]:
        return await self.request("GET", "/fills", list[Fill], query=query)

    async def funding(self, **query: Any) -> list[FundingPayment]:
        return await self.request("GET", "/funding", list[FundingPayment], query=query)

    async def risk(self) -> RiskView:
        return await self.request("GET", "/risk", RiskView)

    async def limits(self) -> list[LimitUsage]:
        return await self.request("GET", "/risk/limits", list[LimitUsage])

    async def breakers(self) -> list[Trip]:
        return await self.request("GET", "/risk/breakers", list[Trip])

    async def alerts(self) -> list[RiskAlert]:
        return await self.request("GET", "/risk/alerts", list[RiskAlert])

    async def strategies(self) -> list[StrategyInfo]:
        return await self.request("GET", "/strategies", list[StrategyInfo])

    async def strategy(self, strategy_id: str) -> StrategyInfo:
        return await self.request("GET", f"/strategies/{strategy_id}", StrategyInfo)

    async def strategy_versions(self, strategy_id: str) -> list[StrategyVersion]:
        return await self.request("GET", f"/strategies/{strategy_id}/versions", list[StrategyVersion])

    async def audit(self, **query: Any) -> AuditPage:
        return await self.request("GET", "/audit", AuditPage, query=query)

    async def verify_audit(self) -> AuditVerification:
        return await self.request("GET", "/audit/verify", AuditVerification)

    async def decisions(self) -> list[AgentDecision]:
        return await self.request("GET", "/agents/decisions", list[AgentDecision])

    # -- commands -----------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        return await self.request("POST", "/orders", Order, body=request)

    async def check_order(self, request: OrderRequest) -> CheckResult:
        return await self.request("POST", "/orders/check", CheckResult, body=request)

    async def modify_order(self, client_order_id: str, price: Decimal | None = None, size: Decimal | None = None) -> Order:
        return await self.request("PATCH", f"/orders/{client_order_id}", Order, body=ModifyOrder(price=price, size=size))

    async def cancel_order(self, client_order_id: str) -> Order:
        return await self.request("DELETE", f"/orders/{client_order_id}", Order)

    async def cancel_all(self, venue: str | None = None, symbol: str | None = None) -> int:
        return (await self.request("POST", "/orders/cancel-all", Count, body=CancelAll(venue=venue, symbol=symbol))).count

    async def batch(self, operations: list[Operation]) -> BatchResult:
        return await self.request("POST", "/orders/batch", BatchResult, body=Batch(operations=operations))

    async def close_position(self, symbol: str, venue: str | None = None, size: Decimal | None = None) -> Order:
        body = ClosePosition(venue=venue, symbol=symbol, size=size)
        return await self.request("POST", "/positions/close", Order, body=body)

    async def set_protection(self, symbol: str, venue: str | None = None, stop_loss: Decimal | None = None,
                             take_profit: Decimal | None = None) -> ProtectiveLevels | None:
        body = SetProtection(venue=venue, symbol=symbol, stop_loss=stop_loss, take_profit=take_profit)
        return await self.request("PUT", "/positions/protection", ProtectiveLevels | None, body=body)  # type: ignore[arg-type]

    async def close_all(self) -> int:
        return (await self.request("POST", "/positions/close-all", Count)).count

    async def emergency_stop(self, reason: str | None = None) -> RiskView:
        body = EmergencyStop(reason=reason) if reason else EmergencyStop()
        return await self.request("POST", "/risk/emergency-stop", RiskView, body=body)

    async def reset_risk(self) -> RiskView:
        return await self.request("POST", "/risk/reset", RiskView)

    async def start_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self.request("POST", f"/strategies/{strategy_id}/start", StrategyInfo)

    async def stop_strategy(self, strategy_id: str) -> StrategyInfo:
        return await self.request("POST", f"/strategies/{strategy_id}/stop", StrategyInfo)

    async def set_strategy_params(self, strategy_id: str, params: dict[str, Any], note: str = "") -> StrategyInfo:
        body = StrategyParams(params=params, note=note) if note else StrategyParams(params=params)
        return await self.request("PATCH", f"/strategies/{strategy_id}/params", StrategyInfo, body=body)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
