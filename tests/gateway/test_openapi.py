"""The OpenAPI document is generated from the endpoints and the core's models: every endpoint
is in it with its level, every reference resolves, and the order schema is pydantic's own."""

from __future__ import annotations

from typing import Any

from core.models import OrderRequest
from gateway.routes import ENDPOINTS
from tests.gateway.conftest import Api


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


async def test_the_document_describes_every_endpoint_from_the_core_models(api: Api) -> None:
    assert (await api.call("GET", "/openapi.json", None)).status == 401
    reply = await api.call("GET", "/openapi.json", "reader")
    doc = reply.body
    assert doc["openapi"] == "3.1.0" and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for endpoint in ENDPOINTS:
        operation = doc["paths"]["/api/v1" + endpoint.path][endpoint.method.lower()]
        assert operation["x-level"] == endpoint.level.label
        assert str(endpoint.status) in operation["responses"] and "422" in operation["responses"]
    assert "get" in doc["paths"]["/api/v1/stream"]
    schemas = doc["components"]["schemas"]
    missing = {ref for ref in refs(doc) if ref.removeprefix("#/components/schemas/") not in schemas}
    assert not missing
    place = doc["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = place["$ref"].removeprefix("#/components/schemas/")
    assert schemas[name]["properties"] == OrderRequest.model_json_schema(ref_template="#/components/schemas/{model}")["properties"]
    for stream_schema in ("StreamEnvelope", "StreamRequest", "OrderUpdated", "OrderFilled", "StreamSnapshot", "ErrorBody"):
        assert stream_schema in schemas
    history = doc["paths"]["/api/v1/orders/history"]["get"]["parameters"]
    assert {p["name"] for p in history} >= {"venue", "symbol", "status", "since_ms", "limit"}
