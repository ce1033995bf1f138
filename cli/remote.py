"""What the commands that talk to a running gateway share: finding it, running one call, one
line and an exit code for whatever goes wrong, and plain columns or JSON for what comes back.

Exit codes: 0 done; 1 no gateway answers (or it failed); 2 bad input; 4 the engine refused
(the reason is the app's text); 5 not allowed (token missing, revoked, or below the level).
With ``--json`` the answer (or the error body) is printed as the gateway sent it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from cli.main import CommandContext, Handler
from core.redact import redact

if TYPE_CHECKING:
    from pydantic import ValidationError

    from client.errors import ApiError
    from client.http import GatewayClient

EXIT_FAILED, EXIT_INPUT, EXIT_REFUSED, EXIT_NOT_ALLOWED = 1, 2, 4, 5
RemoteRun = Callable[[argparse.Namespace, "GatewayClient"], Awaitable[int]]


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the gateway (default: $OPENTRADE_URL, else the one running on the home); "
                                      "the token comes from $OPENTRADE_TOKEN or the home")
    parser.add_argument("--json", action="store_true", help="print the gateway's answer as JSON")


def remote(run: RemoteRun) -> Handler:
    """The handler of a command that makes calls to the gateway. The client (aiohttp, the
    core's models) is imported when the command runs, so that `opentrade --help` does not."""

    @functools.wraps(run)
    def handler(args: argparse.Namespace, ctx: CommandContext) -> int:
        from client.errors import ApiError, GatewayError

        try:
            return asyncio.run(_call(run, args, ctx))
        except ApiError as exc:
            return _api_failure(exc, args.json)
        except GatewayError as exc:
            return fail(f"opentrade: {exc.reason}", EXIT_FAILED)

    return handler


async def _call(run: RemoteRun, args: argparse.Namespace, ctx: CommandContext) -> int:
    from client.discovery import find
    from client.http import GatewayClient

    async with GatewayClient(find(ctx.home, args.url)) as client:
        return await run(args, client)


def _api_failure(exc: ApiError, as_json: bool) -> int:
    from client.errors import BadRequest, NotAllowed, Refused

    code = (EXIT_REFUSED if isinstance(exc, Refused) else EXIT_NOT_ALLOWED if isinstance(exc, NotAllowed)
            else EXIT_INPUT if isinstance(exc, BadRequest) else EXIT_FAILED)
    if as_json:
        body = {"error": exc.error, "reason": exc.reason, **({"rule": exc.rule} if exc.rule else {})}
        print(json.dumps(body))
        return code
    label = {EXIT_REFUSED: "refused", EXIT_NOT_ALLOWED: "not allowed", EXIT_INPUT: "invalid"}.get(code, "failed")
    return fail(f"{label}: {exc.reason}", code)


def fail(message: str, code: int) -> int:
    print(redact(message), file=sys.stderr)
    return code


def invalid(exc: ValidationError) -> int:
    """A request the command could not even build (a size of -1): bad input, exit 2."""
    from core.api import validation_text

    return fail(f"invalid: {validation_text(exc)}", EXIT_INPUT)


def show_json(value: Any, kind: Any) -> None:
    from pydantic import TypeAdapter

    print(TypeAdapter(kind).dump_json(value, fallback=str).decode())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    """Plain columns, easy to read and to cut; ``empty`` when there is nothing to show."""
    if not rows:
        print(empty)
        return
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
