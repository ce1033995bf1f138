"""The gateway's request and answer bodies: what a client sends and what it gets back.

Orders travel as the core's ``OrderRequest`` and ``Order``; a batch is a list of the
executor's ``Operation``; answers are the core's models or the views of ``core.views``. The
small models here only wrap them (a price and size for a change, a venue and symbol for a
close) or say how many things a command touched. The OpenAPI document is generated from
these classes, and the client decodes answers with them, so the schema exists once.

Where a gateway announces itself on the machine (``<home>/gateway.json``) is here too: the
gateway writes it and the clients read it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.config import TradingConfig, UIConfig
from core.executor import Operation
from core.models import OrderStatus
from core.storage.audit import AuditEntry

API_PREFIX = "/api/v1"
GATEWAY_FILE = "gateway.json"
MAX_PAGE = 1000
MAX_BATCH = 100
MAX_INT = 2**63 - 1  # SQLite's integers; a larger timestamp or seq is no moment at all


class Body(BaseModel):
    """Unknown fields are refused: a misspelt ``stop_los`` must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Body):
    """Every 4xx and 5xx answer. ``reason`` is the text the app shows for the same refusal;
    ``rule`` names the check that refused an order (risk rule, validation, permission...)."""

    error: Literal[
        "invalid_request", "unauthorized", "forbidden", "not_found", "refused", "conflict", "too_large",
        "rate_limited", "unavailable", "internal",
    ]
    reason: str
    rule: str | None = None


def validation_text(exc: ValidationError) -> str:
    """``size: input should be greater than 0; a limit order needs a price``: one clause per
    problem, the field first, pydantic's "Value error," prefix dropped."""
    clauses = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        where = ".".join(str(part) for part in error["loc"])
        clauses.append(f"{where}: {message}" if where else message)
    return "; ".join(clauses)


# -- commands -----------------------------------------------------------------------------------


class ModifyOrder(Body):
    """Cancel-replace with a new price and/or size; what is left out stays as it was."""

    price: Decimal | None = Field(default=None, gt=0)
    size: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _something(self) -> ModifyOrder:
        if self.price is None and self.size is None:
            raise ValueError("give a new price, a new size or both")
        return self


class CancelAll(Body):
    venue: str | None = None
    symbol: str | None = None


class ClosePosition(Body):
    """A market order closing the position (all of it unless ``size`` is given)."""

    venue: str | None = Field(default=None, description="default: the engine's default venue")
    symbol: str
    size: Decimal | None = Field(default=None, gt=0)


class SetProtection(Body):
    """The stop-loss and take-profit of the open position on a market; a level left out (null)
    is removed."""

    venue: str | None = Field(default=None, description="default: the engine's default venue")
    symbol: str
    stop_loss: Decimal | None = Field(default=None, gt=0)
    take_profit: Decimal | None = Field(default=None, gt=0)


class Batch(Body):
    operations: list[Operation] = Field(min_length=1, max_length=MAX_BATCH)


class EmergencyStop(Body):
    reason: str = Field(default="emergency stop from the API", min_length=1, max_length=500)


class StrategyParams(Body):
    params: dict[str, Any] = Field(min_length=1)
    note: str = Field(default="set through the API", max_length=500)


class Health(Body):
    """The gateway answers: the engine's state, the gateway's epoch (new at each start), and who
    the caller is with the level it acts at."""

    status: Literal["ok"] = "ok"
    engine: str
    epoch: str
    actor: str
    level: str


class Settings(Body):
    """The configuration a front end needs to show and fill the order ticket as the engine
    would (default leverage, confirmation thresholds) and to draw (refresh rate, theme, keys)."""

    trading: TradingConfig
    ui: UIConfig
    agents_enabled: bool = False
    agents_venue: str | None = Field(default=None, description="the venue the agents analyse (default: the default venue)")


class Count(Body):
    """How many orders a cancel-all canceled, or how many closing orders a close-all sent."""

    count: int


class CheckResult(Body):
    """The verdict of validation and the risk checks on an order, without placing it."""

    ok: bool
    reason: str | None = None
    rule: str | None = None


class StrategyVersion(Body):
    name: str
    version: int
    params: dict[str, Any]
    note: str
    ts: int


class AuditPage(Body):
    """Entries oldest first; ``next_before_seq`` asks for the page before this one."""

    entries: list[AuditEntry]
    next_before_seq: int | None


# -- queries ------------------------------------------------------------------------------------


class Query(Body):
    pass


class MarketQuery(Query):
    venue: str | None = Field(default=None, description="default: the engine's default venue")
    symbol: str


class BookQuery(MarketQuery):
    depth: int = Field(default=20, ge=1, le=500)


class TradesQuery(MarketQuery):
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


class CandlesQuery(MarketQuery):
    timeframe: Literal["1m", "5m", "15m", "1h"] = "1m"
    limit: int = Field(default=500, ge=1, le=MAX_PAGE)


class VenueQuery(Query):
    venue: str | None = None


class OrdersQuery(Query):
    venue: str | None = None
    symbol: str | None = None


class HistoryQuery(OrdersQuery):
    strategy_id: str | None = None
    status: OrderStatus | None = None
    since_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    until_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    limit: int = Field(default=200, ge=1, le=MAX_PAGE)


class FillsQuery(OrdersQuery):
    strategy_id: str | None = None
    client_order_id: str | None = None
    since_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    until_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    limit: int = Field(default=200, ge=1, le=MAX_PAGE)


class FundingQuery(OrdersQuery):
    since_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    until_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    limit: int = Field(default=200, ge=1, le=MAX_PAGE)


class AuditQuery(Query):
    kind: str | None = None
    actor: str | None = None
    symbol: str | None = None
    since_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    before_seq: int | None = Field(default=None, ge=1, le=MAX_INT)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


# -- where a gateway listens ----------------------------------------------------------------------


class GatewayEndpoint(Body):
    """``<home>/gateway.json`` (mode 600): written when a gateway starts, removed when it stops.

    ``local_token`` lets a client run by the same user on the same machine in without a token
    of its own; it acts as ``api:local`` with the configured profile's level, is new at each
    start and stops working when the gateway stops."""

    url: str
    pid: int
    epoch: str
    started_ms: int
    local_token: str
    cafile: Path | None = None

