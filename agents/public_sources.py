"""Data provider plugins for well-known public sources, registered like any plugin's
(``opentrade.data_providers`` in pyproject.toml) and named in an agent's source::

    agents:
      sentiment: {provider: fear_greed, max_age: 90000}
      onchain: {provider: exchange_netflow, options: {api_key_env: GLASSNODE_API_KEY}}

* ``fear_greed``: alternative.me's Crypto Fear & Greed Index (no key). A daily index stamped
  at the start of its day: give it a ``max_age`` of a day and more, or it reads as stale.
* ``exchange_netflow``: coins moving onto exchanges minus those leaving them, per day, as
  Glassnode's ``transfers_volume_exchanges_net`` metric answers (``[{"t": seconds, "v": coins},
  ...]``, oldest first); its key is read from the environment variable ``api_key_env`` names
  and sent as a header, never in the URL or a message. Coins moving onto exchanges are coins
  readied for sale: the newest day's flow against the mean size of the days before it gives a
  bearish-positive score (an inflow of twice the usual size: -0.96).

``url`` in the source replaces the public address (a proxy, a mirror, the tests' server);
``{base}`` in it is the symbol's base currency. A source that cannot be reached or answers
something else leaves its agent saying "no data" with the reason, at zero weight.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from agents.providers import HttpJsonProvider, ProviderData, ProviderError, UnavailableProvider, get_json
from core.config import AgentSourceConfig

FEAR_GREED_URL = "https://api.alternative.me/fng/?limit=1"
NETFLOW_URL = "https://api.glassnode.com/v1/metrics/transactions/transfers_volume_exchanges_net?a={base}&i=24h"
NETFLOW_MIN_DAYS = 8  # the newest day and a week to compare it with
NETFLOW_CONFIDENCE = 0.5


def fear_greed(source: AgentSourceConfig, name: str) -> HttpJsonProvider:
    return HttpJsonProvider(source.url or FEAR_GREED_URL, name=f"{name} (alternative.me fear & greed)",
                            timeout_s=source.timeout)


class ExchangeNetflowProvider:
    def __init__(self, url: str, name: str, timeout_s: float, headers: Mapping[str, str]) -> None:
        self.url = url
        self.name = name
        self.timeout_s = timeout_s
        self.headers = dict(headers)

    async def fetch(self, symbol: str) -> ProviderData | None:
        url = self.url.format(base=symbol.split(":")[0].split("/")[0])
        return netflow_reading(await get_json(url, self.timeout_s, self.headers), url)


def netflow_reading(document: Any, source: str) -> ProviderData | None:
    if not isinstance(document, Sequence) or isinstance(document, str):
        raise ProviderError(f"{source}: expected a JSON list of {{\"t\": seconds, \"v\": coins}}")
    days = []
    for row, entry in enumerate(document, start=1):
        try:
            ts, value = int(entry["t"]) * 1000, float(entry["v"])
        except (TypeError, KeyError, ValueError):
            raise ProviderError(f"{source}: entry {row} needs a numeric t and v (got {entry!r:.200})") from None
        if not math.isfinite(value):
            raise ProviderError(f"{source}: entry {row}: v is not a finite number")
        days.append((ts, value))
    if len(days) < NETFLOW_MIN_DAYS:
        return None
    days.sort()
    ts, latest = days[-1]
    usual = sum(abs(value) for _, value in days[-NETFLOW_MIN_DAYS:-1]) / (NETFLOW_MIN_DAYS - 1)
    score = -math.tanh(latest / usual) if usual > 0 else 0.0
    direction = "onto exchanges (selling pressure)" if latest > 0 else "off exchanges (held)"
    return ProviderData(ts=ts, score=score, confidence=NETFLOW_CONFIDENCE,
                        summary=f"net {latest:+,.0f} coins {direction}, usual day {usual:,.0f}",
                        metrics={"exchange_netflow": latest}, source=source)


def exchange_netflow(source: AgentSourceConfig, name: str) -> ExchangeNetflowProvider | UnavailableProvider:
    """Without its key (and no other url) the agent says "no data" and why, as for any source
    it cannot read: a missing key is not a reason to refuse the whole configuration."""
    env = str(source.options.get("api_key_env", "GLASSNODE_API_KEY"))
    key = os.environ.get(env)
    if source.url is None and not key:
        return UnavailableProvider(name, f"the exchange_netflow provider needs an API key in ${env} (options.api_key_env)")
    return ExchangeNetflowProvider(source.url or NETFLOW_URL, f"{name} (exchange net flow)", source.timeout,
                                   {"X-Api-Key": key} if key else {})
