"""The REST endpoints, one module per area."""

from __future__ import annotations

from gateway.routes import account, market, records, risk, strategies, trading
from gateway.routing import Endpoint

ENDPOINTS: list[Endpoint] = [
    endpoint for group in (account, market, trading, risk, strategies, records) for endpoint in group.routes.endpoints
]

_BY_ROUTE = {(endpoint.method, endpoint.path): endpoint for endpoint in ENDPOINTS}


def endpoint(method: str, path: str) -> Endpoint:
    """The endpoint declared for ``method path`` (a front end other than HTTP calls it by name)."""
    return _BY_ROUTE[(method, path)]
