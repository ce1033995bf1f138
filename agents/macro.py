"""Macro agent: the world outside crypto, only from a provider.

No exchange data stands in for rates, the dollar or an economic calendar, so without a
configured source this agent always says "no data". A provider can flag a ``risk_event`` (a rate
decision, a CPI print): the agent then holds and the Risk agent pauses new trades, as the design
asks ("宏观风险事件暂停交易").
"""

from __future__ import annotations

from agents.external import Evidence, ExternalAgent
from agents.providers import ProviderData


class MacroAgent(ExternalAgent):
    name = "macro"

    def from_provider(self, data: ProviderData) -> list[Evidence]:
        event = data.metrics.get("risk_event")
        if event:
            what = event if isinstance(event, str) else "a scheduled macro risk event"
            confidence = data.confidence if data.confidence is not None else 0.5
            return [Evidence("risk_event", 0.0, confidence, f"{self.provider_label()}: {what}: pause new trades",
                             {"risk_event": what})]
        return super().from_provider(data)
