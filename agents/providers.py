"""Outside data for the On-chain, Sentiment and Macro agents: an HTTP JSON source or a local file.

Both speak one small JSON shape so that any script or service can feed an agent::

    {"ts": 1704067200000,            # when the data was observed (ms UTC); stale data is refused
     "score": 0.4,                   # optional, bullish-positive in [-1, 1]
     "confidence": 0.6,              # optional, in [0, 1]
     "summary": "net outflows from exchanges",
     "metrics": {"fear_greed": 72, "risk_event": false},
     "symbols": {"BTC/USDT": {...the same keys, overriding the top level for that symbol...}}}

alternative.me's Fear & Greed API (``https://api.alternative.me/fng/``) is read as it answers:
its newest reading becomes the ``fear_greed`` metric, observed at the start of its day (a daily
index: give such a source ``max_age: 90000``).

A malformed document raises ``ProviderError`` with what is wrong; the agent then says "no data"
with that reason instead of guessing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from core.config import AgentSourceConfig
from core.redact import redact

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """A data source could not be read or did not hold the expected JSON shape."""


@dataclass(frozen=True, slots=True)
class ProviderData:
    ts: int | None = None
    score: float | None = None
    confidence: float | None = None
    summary: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def age_ms(self, now_ms: int) -> int | None:
        return None if self.ts is None else max(0, now_ms - self.ts)


class DataProvider(Protocol):
    name: str

    async def fetch(self, symbol: str) -> ProviderData | None:
        """The view for a symbol, None when the source has nothing for it."""
        ...


def parse_document(document: Any, symbol: str, source: str) -> ProviderData | None:
    """Apply the per-symbol overrides and check every field's type and range."""
    if not isinstance(document, Mapping):
        raise ProviderError(f"{source}: expected a JSON object, got {type(document).__name__}")
    if isinstance(document.get("data"), list):
        return _fear_and_greed_index(document, source)
    entry = dict(document)
    symbols = entry.pop("symbols", None)
    if symbols is not None:
        if not isinstance(symbols, Mapping):
            raise ProviderError(f"{source}: 'symbols' must be an object keyed by symbol")
        base = symbol.split("/")[0]
        override = symbols.get(symbol, symbols.get(base))
        if isinstance(override, Mapping):
            entry |= dict(override)
        elif override is not None:
            raise ProviderError(f"{source}: symbols.{symbol} must be an object")
    if not {"score", "metrics"} & entry.keys():
        return None
    return ProviderData(
        ts=_optional_int(entry, "ts", source),
        score=_optional_float(entry, "score", source, -1.0, 1.0),
        confidence=_optional_float(entry, "confidence", source, 0.0, 1.0),
        summary=str(entry.get("summary", ""))[:200],
        metrics=_metrics(entry.get("metrics", {}), source),
        source=source,
    )


def _fear_and_greed_index(document: Mapping[str, Any], source: str) -> ProviderData | None:
    """alternative.me's answer: ``{"data": [{"value": "88", "value_classification": "Extreme
    Greed", "timestamp": "1731542400"}, ...], "metadata": {"error": null}}``, values and
    timestamps (seconds) as strings, newest first."""
    metadata = document.get("metadata")
    error = metadata.get("error") if isinstance(metadata, Mapping) else None
    if error:
        raise ProviderError(f"{source}: the index reports an error: {str(error)[:200]}")
    readings = []
    for row, entry in enumerate(document["data"], start=1):
        try:
            value, ts = float(entry["value"]), int(entry["timestamp"]) * 1000
        except (TypeError, KeyError, ValueError):
            raise ProviderError(f"{source}: data entry {row} needs a numeric value and timestamp (got {entry!r:.200})") from None
        if not 0 <= value <= 100:
            raise ProviderError(f"{source}: data entry {row}: value must be in [0, 100] (got {value:g})")
        readings.append((ts, value, str(entry.get("value_classification", ""))[:40]))
    if not readings:
        return None
    ts, value, label = max(readings)
    return ProviderData(ts=ts, summary=label, metrics={"fear_greed": value}, source=source)


def _optional_int(entry: Mapping[str, Any], key: str, source: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProviderError(f"{source}: '{key}' must be an integer of milliseconds UTC (got {value!r})")
    return value


def _optional_float(entry: Mapping[str, Any], key: str, source: str, low: float, high: float) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ProviderError(f"{source}: '{key}' must be a number in [{low:g}, {high:g}] (got {value!r})")
    return float(value)


def _metrics(value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ProviderError(f"{source}: 'metrics' must be an object")
    return dict(value)


class FileJsonProvider:
    """A JSON file kept up to date by some other process (a cron job, a notebook)."""

    def __init__(self, path: Path, name: str = "file") -> None:
        self.path = Path(path)
        self.name = name

    async def fetch(self, symbol: str) -> ProviderData | None:
        try:
            text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        except FileNotFoundError:
            raise ProviderError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise ProviderError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"{self.path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        return parse_document(document, symbol, str(self.path))


class HttpJsonProvider:
    """A URL answering the JSON shape above; ``{symbol}`` (as BTC-USDT), ``{base}`` and
    ``{quote}`` in the URL are filled in, so one service can answer per symbol."""

    def __init__(
        self,
        url: str,
        name: str = "http",
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"provider URL must start with http:// or https:// (got {url!r})")
        self.url = url
        self.name = name
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})

    def url_for(self, symbol: str) -> str:
        base, _, quote = symbol.split(":")[0].partition("/")
        return self.url.format(symbol=symbol.replace("/", "-"), base=base, quote=quote)

    async def fetch(self, symbol: str) -> ProviderData | None:
        url = self.url_for(symbol)
        return parse_document(await get_json(url, self.timeout_s, self.headers), symbol, url)


async def get_json(url: str, timeout_s: float, headers: Mapping[str, str]) -> Any:
    """The JSON document at ``url``; ProviderError saying why when there is none (the headers,
    which may carry a key, are never in a message)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=dict(headers)) as response,
        ):
            if response.status != 200:
                raise ProviderError(f"{url}: HTTP {response.status}")
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProviderError(redact(f"{url}: {type(exc).__name__}: {exc}")) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderError(f"{url}: not valid JSON: {exc.msg}") from None


class UnavailableProvider:
    """A configured source whose data provider plugin cannot be loaded: every fetch says why,
    so the agent shows "no data" with the plugin's error instead of a silent gap."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def fetch(self, symbol: str) -> ProviderData | None:
        raise ProviderError(f"{self.name}: {self.reason}")


def http_json(source: AgentSourceConfig, name: str) -> HttpJsonProvider:
    """The built-in ``http_json`` data provider plugin: a source's ``url``."""
    if source.url is None:
        raise ValueError(f"{name}: the http_json provider needs a url")
    return HttpJsonProvider(source.url, name=name, timeout_s=source.timeout)


def file_json(source: AgentSourceConfig, name: str) -> FileJsonProvider:
    """The built-in ``file_json`` data provider plugin: a source's ``path``."""
    if source.path is None:
        raise ValueError(f"{name}: the file_json provider needs a path")
    return FileJsonProvider(source.path, name=name)
