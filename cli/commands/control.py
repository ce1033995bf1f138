"""`opentrade stop` (the emergency stop) and `opentrade resume` (the risk reset), through a
running gateway: the same engine calls, permissions and audit entries as ctrl+k and the Risk
screen's reset in the app."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli.remote import add_options, remote, show_json

if TYPE_CHECKING:
    from client.http import GatewayClient
    from core.views import RiskView


def register(sub: argparse._SubParsersAction) -> None:
    stop = sub.add_parser("stop", help="EMERGENCY STOP: halt trading, cancel every order, close every position")
    stop.add_argument("--reason", default="emergency stop from the command line")
    add_options(stop)
    stop.set_defaults(handler=handle_stop)
    resume = sub.add_parser("resume", help="reset the risk state and the circuit breakers after a halt (admin)")
    add_options(resume)
    resume.set_defaults(handler=handle_resume)


def _shown(args: argparse.Namespace, risk: RiskView, text: str) -> int:
    from core.views import RiskView

    if args.json:
        show_json(risk, RiskView)
    else:
        print(text)
    return 0


@remote
async def handle_stop(args: argparse.Namespace, gateway: GatewayClient) -> int:
    risk = await gateway.emergency_stop(args.reason)
    return _shown(args, risk, f"Trading halted ({risk.state.value.upper()}); orders canceled and positions closing. "
                              "It stays halted until an admin runs 'opentrade resume'.")


@remote
async def handle_resume(args: argparse.Namespace, gateway: GatewayClient) -> int:
    risk = await gateway.reset_risk()
    return _shown(args, risk, f"Risk state reset: trading is {risk.state.value}.")
