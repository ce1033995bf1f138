"""`opentrade audit verify|export`: check the hash chain, or export entries.

`verify` also checks the chain against its anchor, the head kept outside the database: the
home's `audit-anchor` file, or with `--anchor FILE` a copy kept elsewhere (a backup's
`.audit-anchor` file, or the line from the daily notification saved as a file). Both read the
database the home is configured with (a SQLite file, or PostgreSQL), without changing it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from cli.main import CommandContext
from core.storage.anchor import ANCHOR_NAME, Anchor, read_anchor
from core.storage.audit import AuditVerification
from core.storage.audit_tools import export_audit, verify_audit_file

if TYPE_CHECKING:
    from core.storage.target import StorageTarget


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="verify or export the audit log")
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="recompute the hash chain; exit 1 at the first broken link")
    verify.add_argument(
        "--anchor", type=Path, metavar="FILE",
        help="check against this copy of the audit anchor instead of the one in the home",
    )
    verify.set_defaults(handler=handle_verify)
    export = actions.add_parser("export", help="export entries as JSON lines or CSV")
    export.add_argument("--since", help="ISO date or time (UTC), e.g. 2026-11-01 or 2026-11-01T12:00")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=handle_export)


def _db(ctx: CommandContext) -> StorageTarget:
    storage = ctx.storage(ctx.load_config())
    if not storage.exists():
        raise SystemExit(f"no database at {storage}: nothing has run with this home yet")
    return storage


async def _verify(storage: StorageTarget, anchor: Anchor | None) -> AuditVerification:
    return await verify_audit_file(await storage.reader(), anchor)


async def _export(storage: StorageTarget, since: int | None, fmt: Literal["jsonl", "csv"], out: TextIO) -> int:
    return await export_audit(await storage.reader(), since, fmt, out)


def handle_verify(args: argparse.Namespace, ctx: CommandContext) -> int:
    storage = _db(ctx)
    anchor_file = args.anchor or ctx.home / ANCHOR_NAME
    if args.anchor is not None and not args.anchor.is_file():
        raise SystemExit(f"--anchor {args.anchor}: no such file")
    anchor = read_anchor(anchor_file)
    result = asyncio.run(_verify(storage, anchor))
    if result.ok:
        against = f"; entry {anchor.seq} matches {anchor_file}" if anchor is not None else "; no anchor to compare with"
        print(f"audit log intact: {result.checked} entries verified{against}")
        return 0
    print(f"audit log BROKEN at entry {result.first_broken}: {result.message}", file=sys.stderr)
    return 1


def utc_ms(text: str) -> int:
    """An ISO date or time in milliseconds, UTC when it names no zone; ValueError when it is
    neither (shared with `data fetch --since`)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_since(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return utc_ms(text)
    except ValueError:
        raise SystemExit(f"--since: '{text}' is not an ISO date or time such as 2026-11-01 or 2026-11-01T12:00") from None


def handle_export(args: argparse.Namespace, ctx: CommandContext) -> int:
    since = parse_since(args.since)
    storage = _db(ctx)
    if args.output:
        with args.output.open("w", encoding="utf-8", newline="") as out:
            count = asyncio.run(_export(storage, since, args.format, out))
        print(f"wrote {count} entries to {args.output}", file=sys.stderr)
    else:
        asyncio.run(_export(storage, since, args.format, sys.stdout))
    return 0
