"""The OpenAPI 3.1 document, generated from the endpoint declarations and the core's models:
every body, query, answer and stream message schema is pydantic's view of the class the code
itself uses, so the document cannot drift from what the gateway does."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from core.api import API_PREFIX, ErrorBody
from core.permissions import Level
from core.stream import STREAM_EVENTS, StreamEnvelope, StreamRequest
from gateway.routing import Endpoint

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "The body or query does not fit the schema",
    "401": "No token, or an unknown or revoked one",
    "403": "The caller's level is too low",
    "404": "No such route, order, strategy or market",
    "409": "The client order id was used before",
    "413": "The body is too large",
    "422": "The engine refused (the reason is the app's text)",
    "429": "Too many failed authentications from this address",
}
STREAM_DESCRIPTION = """A WebSocket. Send `{"op": "subscribe", "topics": [...]}` first (add `since` and
`epoch` from your last connection to resume); then `subscribe`/`unsubscribe` at any time. Each text
frame holds one or more messages, one JSON object per line (StreamEnvelope): `event` names the
schema of `data`. The first message is a StreamHello; a StreamSnapshot follows unless the connection
resumed. Topics: orders, fills, positions, balances, risk, alerts, decisions, strategies, status,
tickers, book:VENUE:SYMBOL, trades:VENUE:SYMBOL, candles:VENUE:SYMBOL, stats:VENUE:SYMBOL (funding,
open interest), and prefixes ending in `*`. Close codes: 1001 the gateway stops, 4001 the token was
revoked, 4008 the client fell too far behind (resume), 4400 a bad first request."""


def document(endpoints: list[Endpoint], version: str) -> dict[str, Any]:
    inputs: list[tuple[Any, Any, TypeAdapter[Any]]] = []
    for index, endpoint in enumerate(endpoints):
        inputs.append(((index, "response"), "serialization", endpoint.response_adapter))
        if endpoint.body_adapter is not None:
            inputs.append(((index, "body"), "validation", endpoint.body_adapter))
        if endpoint.query is not None:
            inputs.append(((index, "query"), "validation", TypeAdapter(endpoint.query)))
    extras: dict[str, type[Any]] = {"ErrorBody": ErrorBody, "StreamEnvelope": StreamEnvelope, "StreamRequest": StreamRequest,
                                    **STREAM_EVENTS}
    for name, cls in extras.items():
        inputs.append(((name, "extra"), "serialization", TypeAdapter(cls)))
    schemas, top = TypeAdapter.json_schemas(inputs, ref_template=REF)
    components = dict(top.get("$defs", {}))
    for name in extras:
        schema = schemas[((name, "extra"), "serialization")]
        if "$ref" not in schema:
            components[name] = schema
    paths: dict[str, dict[str, Any]] = {}
    for index, endpoint in enumerate(endpoints):
        paths.setdefault(API_PREFIX + endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, index, schemas, components)
    paths[API_PREFIX + "/stream"] = {"get": {
        "summary": "The event stream (WebSocket)", "tags": ["stream"], "operationId": "stream",
        "description": STREAM_DESCRIPTION, "x-level": Level.READ_ONLY.label,
        "responses": {"101": {"description": "Switching to the WebSocket protocol"},
                      "401": _error(ERRORS["401"])},
    }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "OpenTrade gateway", "version": version,
                 "description": "The trading engine's API. Every request needs 'Authorization: Bearer <token>'."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


def _operation(endpoint: Endpoint, index: int, schemas: dict[Any, Any], components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary, "tags": [endpoint.tag], "operationId": endpoint.handler.__name__,
        "x-level": endpoint.level.label,
        "responses": {str(endpoint.status): {
            "description": endpoint.summary,
            "content": {"application/json": {"schema": schemas[((index, "response"), "serialization")]}},
        }, **{status: _error(text) for status, text in ERRORS.items()}},
    }
    if endpoint.description:
        operation["description"] = " ".join(endpoint.description.split())
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _path_names(endpoint.path)]
    if endpoint.query is not None:
        query = _resolve(schemas[((index, "query"), "validation")], components)
        required = set(query.get("required", []))
        parameters += [{"name": name, "in": "query", "required": name in required, "schema": schema}
                       for name, schema in query.get("properties", {}).items()]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": schemas[((index, "body"), "validation")]}}}
    return operation


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[1]] if isinstance(ref, str) else schema


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
