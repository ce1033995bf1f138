"""The risk state, limits, breakers and alerts; the emergency stop and the reset."""

from __future__ import annotations

from core.api import EmergencyStop
from core.events import RiskAlert
from core.permissions import Level
from core.risk.breakers import Trip
from core.risk.gauges import LimitUsage
from core.views import RiskView, risk_view
from gateway.routing import Call, Routes

routes = Routes("risk")


@routes.route("GET", "/risk", summary="State, limits with their use, tripped breakers, recent alerts", response=RiskView)
async def risk(call: Call) -> RiskView:
    return risk_view(call.engine)


@routes.route("GET", "/risk/limits", summary="Every limit with its current use", response=list[LimitUsage])
async def limits(call: Call) -> list[LimitUsage]:
    return call.engine.risk.limits_usage(call.engine.open_orders())


@routes.route("GET", "/risk/breakers", summary="Tripped circuit breakers", response=list[Trip])
async def breakers(call: Call) -> list[Trip]:
    return list(call.engine.guard.breakers.tripped.values())


@routes.route("GET", "/risk/alerts", summary="Recent risk alerts, oldest first", response=list[RiskAlert])
async def alerts(call: Call) -> list[RiskAlert]:
    return call.engine.recent_alerts()


@routes.route("POST", "/risk/emergency-stop", summary="Halt trading, cancel every order, close every position",
              response=RiskView, body=EmergencyStop, level=Level.TRADE, action="the emergency stop")
async def emergency_stop(call: Call) -> RiskView:
    """As ctrl+k in the app: trading stays halted until an admin resets it."""
    await call.engine.emergency_stop(call.body.reason, actor=call.actor)
    return risk_view(call.engine)


@routes.route("POST", "/risk/reset", summary="Trade again after a halt: the risk state and the breakers",
              response=RiskView, level=Level.ADMIN, action="resetting the risk state")
async def reset(call: Call) -> RiskView:
    await call.engine.reset_risk(call.actor)
    return risk_view(call.engine)
