"""Strategies: list, show, start, stop, change parameters, and their stored versions.

The strategy engine has no permission check of its own (the app's keys act at the profile's
level), so the gateway authorizes each change and audits it with the caller's name."""

from __future__ import annotations

from typing import Any

from core.api import StrategyParams, StrategyVersion
from core.permissions import Level
from core.strategies.info import StrategyInfo
from core.views import strategies_view
from gateway.errors import ApiProblem
from gateway.routing import Call, Routes, not_found

routes = Routes("strategies")


def _runner(call: Call) -> Any:
    runner = call.engine.strategies
    if runner is None:
        raise ApiProblem(503, "unavailable", "the strategies are not loaded in this engine")
    return runner


def _info(call: Call) -> StrategyInfo:
    strategy_id = call.params["strategy_id"]
    runner = _runner(call)
    try:
        return runner.context(strategy_id).info()
    except KeyError as exc:
        raise not_found(str(exc.args[0]) if exc.args else f"no strategy '{strategy_id}'") from None


async def _audit(call: Call, kind: str, payload: dict[str, Any]) -> None:
    await call.engine.db.audit(kind, payload, actor=call.actor, ts=call.engine.clock.now_ms())


async def _changed(call: Call) -> StrategyInfo:
    info = _info(call)
    call.hub.strategy_changed(info)
    return info


@routes.route("GET", "/strategies", summary="Loaded strategies: state, PnL, orders, recent signals",
              response=list[StrategyInfo])
async def strategies(call: Call) -> list[StrategyInfo]:
    return strategies_view(call.engine)


@routes.route("GET", "/strategies/{strategy_id}", summary="One strategy", response=StrategyInfo)
async def strategy(call: Call) -> StrategyInfo:
    return _info(call)


@routes.route("POST", "/strategies/{strategy_id}/start", summary="Start a strategy", response=StrategyInfo,
              level=Level.TRADE, action="starting strategies")
async def start(call: Call) -> StrategyInfo:
    return await _switch(call, running=True)


@routes.route("POST", "/strategies/{strategy_id}/stop", summary="Stop a strategy (its open orders stay)",
              response=StrategyInfo, level=Level.TRADE, action="stopping strategies")
async def stop(call: Call) -> StrategyInfo:
    return await _switch(call, running=False)


async def _switch(call: Call, *, running: bool) -> StrategyInfo:
    strategy_id = _info(call).strategy_id
    runner = _runner(call)
    await (runner.start(strategy_id) if running else runner.stop(strategy_id))
    await _audit(call, "strategy_started" if running else "strategy_stopped", {"strategy_id": strategy_id})
    return await _changed(call)


@routes.route("PATCH", "/strategies/{strategy_id}/params", summary="New parameter values, stored as a new version",
              response=StrategyInfo, body=StrategyParams, level=Level.ADMIN, action="changing strategy parameters")
async def set_params(call: Call) -> StrategyInfo:
    """Checked against the strategy's declared parameters and bounds; a refused value changes nothing."""
    strategy_id = _info(call).strategy_id
    params = await _runner(call).set_params(strategy_id, call.body.params, call.body.note)
    await _audit(call, "strategy_params", {"strategy_id": strategy_id, "params": params, "note": call.body.note})
    return await _changed(call)


@routes.route("GET", "/strategies/{strategy_id}/versions", summary="Stored parameter versions, oldest first",
              response=list[StrategyVersion])
async def versions(call: Call) -> list[StrategyVersion]:
    strategy_id = _info(call).strategy_id
    return [StrategyVersion(**row) for row in await call.engine.db.strategy_versions(strategy_id)]
