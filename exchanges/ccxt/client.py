"""Building the ccxt exchange object for a venue, and the details of talking to it.

ccxt is imported here, inside functions: ``import ccxt.async_support`` costs most of a second
and ~100 MB, which every command that does not touch an exchange should not pay.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from core.config import CcxtVenueConfig
from core.redact import RedactingFilter
from core.secrets import Credentials

# Options that are attributes of the ccxt exchange, not entries of its ``options`` dict.
TOP_LEVEL_OPTIONS = frozenset({"enableRateLimit", "rateLimit"})
# Exchanges whose client order ids must be alphanumeric (OKX: clOrdId, up to 32 characters).
ALPHANUMERIC_CLIENT_IDS = frozenset({"okx", "okxus", "myokx"})
OUR_PREFIX = "ot-"
# Exchanges whose client order ids are 128-bit hex (Hyperliquid's cloid, "0x" and 32 digits):
# ours (``ot-`` and 24 hex digits) travel as this prefix ("ot-" in ASCII, then 00) and the digits.
HEX_CLIENT_IDS = frozenset({"hyperliquid"})
HEX_PREFIX = "0x6f742d00"
# Where ccxt does not map its unified ``clientOrderId`` param for lookups and cancels.
CLIENT_ID_PARAM = {"bybit": "orderLinkId"}
# Where the API key and secret are called otherwise: Hyperliquid signs with a wallet's key.
CREDENTIAL_NAMES = {"hyperliquid": {"apiKey": "walletAddress", "secret": "privateKey"}}


class UnknownExchange(ValueError):
    pass


def exchange_ids() -> list[str]:
    import ccxt.async_support  # noqa: PLC0415

    return list(ccxt.async_support.exchanges)


def exchange_class(exchange_id: str) -> type:
    """ccxt.pro's class when the exchange streams (it extends the REST class), else REST only."""
    import ccxt.async_support  # noqa: PLC0415
    import ccxt.pro  # noqa: PLC0415

    if exchange_id in ccxt.pro.exchanges:
        cls: type = getattr(ccxt.pro, exchange_id)
        return cls
    if exchange_id in ccxt.async_support.exchanges:
        rest: type = getattr(ccxt.async_support, exchange_id)
        return rest
    close = [e for e in ccxt.async_support.exchanges if e.startswith(exchange_id[:3])]
    hint = f" (did you mean {', '.join(close[:5])}?)" if close else ""
    raise UnknownExchange(f"ccxt has no exchange named '{exchange_id}'{hint}; run 'opentrade venues' for the list")


def rewrite_urls(api: Any, overrides: dict[str, str]) -> Any:
    """Apply the config's ``api_urls`` to ccxt's ``urls['api']``.

    A key names an entry (``public``, ``fapiPrivate``, ``ws.spot``: dots walk nested entries)
    and replaces it. The key ``*`` replaces the scheme and host of every entry, keeping paths,
    for proxies, regional hosts and the test servers (http -> http, ws -> ws).
    """
    base = overrides.get("*")
    if base is not None:
        api = _rehost(api, base.rstrip("/"))
    for key, url in overrides.items():
        if key == "*":
            continue
        parts = key.split(".")
        node = api
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"api_urls: '{key}' does not name an API URL of this exchange")
            node = node[part]
        if not isinstance(node, dict) or parts[-1] not in node:
            known = ", ".join(sorted(api)) if isinstance(api, dict) else ""
            raise ValueError(f"api_urls: '{key}' does not name an API URL of this exchange (known: {known})")
        node[parts[-1]] = url
    return api


def _rehost(value: Any, base: str) -> Any:
    if isinstance(value, dict):
        return {k: _rehost(v, base) for k, v in value.items()}
    if isinstance(value, str) and re.match(r"^(https?|wss?)://", value):
        scheme = "ws" if value.startswith("ws") else "http"
        host = re.sub(r"^(https?|wss?)://", f"{scheme}://", base)
        return re.sub(r"^(https?|wss?)://[^/]+", host, value)
    return value


def build_exchange(config: CcxtVenueConfig, credentials: Credentials | None) -> Any:
    """A configured ccxt exchange. Credentials are only handed over when given: a paper venue
    passes none, so ccxt itself refuses any private request."""
    cls = exchange_class(config.exchange)
    settings: dict[str, Any] = {"timeout": config.timeout_ms, "enableRateLimit": True}
    options: dict[str, Any] = {}
    for key, value in config.options.items():
        (settings if key in TOP_LEVEL_OPTIONS else options)[key] = value
    settings["options"] = options
    if credentials is not None and credentials.complete:
        names = CREDENTIAL_NAMES.get(config.exchange, {})
        settings.update({names.get(k, k): v for k, v in credentials.for_ccxt().items()})
    exchange = cls(settings)
    _redact_logs(exchange.logger)
    _guard_json(exchange)
    if config.sandbox:
        if not exchange.urls.get("test"):
            raise ValueError(f"{config.exchange} has no testnet in ccxt; remove 'sandbox: true' or set api_urls")
        exchange.set_sandbox_mode(True)
    if config.api_urls:
        exchange.urls["api"] = rewrite_urls(exchange.urls["api"], dict(config.api_urls))
    return exchange


def _redact_logs(logger: logging.Logger) -> None:
    """ccxt logs request headers (API keys included) at DEBUG on its own logger; a logger's
    filters run before any handler, so the key is masked whichever handler records it."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


def _guard_json(exchange: Any) -> None:
    """ccxt hands a JSON-typed answer that does not parse back as a plain string, which most
    parsers then read as an empty result (an empty book, no orders). Make it an error."""
    import ccxt  # noqa: PLC0415

    fetch = exchange.fetch

    async def checked_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        result = await fetch(url, method, headers, body)
        if isinstance(result, str) and result.strip():
            content_type = next(
                (v for k, v in (exchange.last_response_headers or {}).items() if k.lower() == "content-type"), ""
            )
            if "json" in content_type:
                raise ccxt.BadResponse(f"{exchange.id} {method} {url.split('?')[0]}: malformed JSON in the answer")
        return result

    exchange.fetch = checked_fetch


def to_wire(exchange_id: str, client_order_id: str) -> str:
    """The client order id as the exchange accepts it."""
    if exchange_id in ALPHANUMERIC_CLIENT_IDS:
        return re.sub(r"[^A-Za-z0-9]", "", client_order_id)[:32]
    if exchange_id in HEX_CLIENT_IDS:
        digits = client_order_id.removeprefix(OUR_PREFIX)
        if client_order_id.startswith(OUR_PREFIX) and re.fullmatch(r"[0-9a-f]{24}", digits):
            return HEX_PREFIX + digits
        return "0x" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]  # not ours: found by id only
    return client_order_id


def lookup_params(exchange_id: str, client_order_id: str) -> dict[str, Any]:
    """Params that make ccxt's fetch_order / cancel_order find an order by client order id."""
    params: dict[str, Any] = {CLIENT_ID_PARAM.get(exchange_id, "clientOrderId"): to_wire(exchange_id, client_order_id)}
    if exchange_id == "bybit":
        params["acknowledged"] = True  # we only look up our own recent orders (Bybit's last 500)
    return params


def from_wire(exchange_id: str, wire: str | None) -> str | None:
    """Our client order id back from the exchange's copy (inverse of ``to_wire`` for our ids)."""
    if wire is None:
        return None
    if exchange_id in ALPHANUMERIC_CLIENT_IDS and wire.startswith("ot") and not wire.startswith(OUR_PREFIX):
        return OUR_PREFIX + wire[2:]
    if exchange_id in HEX_CLIENT_IDS and wire.startswith(HEX_PREFIX):
        return OUR_PREFIX + wire.removeprefix(HEX_PREFIX)
    return wire


def retry_after_seconds(exchange: Any) -> float | None:
    """The last answer's Retry-After header (seconds form), which ccxt leaves on the exchange."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None
