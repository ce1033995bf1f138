"""The REST endpoints, one module per area."""

from __future__ import annotations

from gateway.routes import account, market, records, risk, strategies, trading
from gateway.routing import Endpoint

ENDPOINTS: list[Endpoint] = [
    endpoint for group in (account, market, trading, risk, strategies, records) for endpoint in group.routes.endpoints
]
