"""`opentrade token create NAME --level L | list | revoke NAME`: the gateway's API tokens.

They work beside a running gateway (which sees each change at its next request), since they
write only ``<home>/tokens.json``, never the database. A new token is printed once, alone on
standard output so a script can capture it; only its hash is kept. A name or level that does
not fit, an unknown name and an unreadable tokens file end with one line and exit 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cli.main import CommandContext, Handler
from core.filemodes import private_dir
from core.permissions import Level

if TYPE_CHECKING:  # the gateway's package, in the handlers only
    from gateway.tokens import TokenStore


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("token", help="create, list and revoke the gateway's API tokens")
    actions = parser.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="a new token, printed once")
    create.add_argument("name", help="who or what uses it: lower-case letters, digits, '.', '_', '-'")
    create.add_argument("--level", required=True, choices=[level.label for level in Level],
                        help="the most it may do (never more than the configured profile)")
    create.set_defaults(handler=handle_create)
    listing = actions.add_parser("list", help="the tokens' names and levels (never the tokens)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=handle_list)
    revoke = actions.add_parser("revoke", help="stop a token from working, at once")
    revoke.add_argument("name")
    revoke.set_defaults(handler=handle_revoke)


def token_errors(run: Handler) -> Handler:
    @functools.wraps(run)
    def handler(args: argparse.Namespace, ctx: CommandContext) -> int:
        from gateway.tokens import TokenError

        try:
            return run(args, ctx)
        except TokenError as exc:
            print(f"opentrade: {exc}", file=sys.stderr)
            return 2

    return handler


def _store(ctx: CommandContext) -> TokenStore:
    from gateway.tokens import TokenStore

    return TokenStore(private_dir(ctx.home))


@token_errors
def handle_create(args: argparse.Namespace, ctx: CommandContext) -> int:
    token = _store(ctx).create(args.name, Level.of(args.level), time.time_ns() // 1_000_000)
    print(token)
    print(f"token '{args.name}' ({args.level}) created: store it now, it is not shown again. Send it as "
          "'Authorization: Bearer <token>', or set OPENTRADE_TOKEN for the opentrade commands.", file=sys.stderr)
    return 0


@token_errors
def handle_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    rows: list[dict[str, Any]] = [{"name": r.name, "level": r.level.label, "created_ms": r.created_ms} for r in _store(ctx).listing()]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no tokens (create one with 'opentrade token create NAME --level read_only|trade|admin')")
    for row in rows:
        created = datetime.fromtimestamp(row["created_ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"{row['name']:<32} {row['level']:<10} created {created}")
    return 0


@token_errors
def handle_revoke(args: argparse.Namespace, ctx: CommandContext) -> int:
    record = _store(ctx).revoke(args.name)
    print(f"token '{record.name}' revoked: a running gateway refuses it from its next request and closes its streams")
    return 0
