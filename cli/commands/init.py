"""`opentrade init`: write a commented configuration to the user's config directory."""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from pathlib import Path

from cli.main import CommandContext
from core.config import default_config_path, parse_config

# The package carries the example (cli/config.example.yaml links to the top-level file, which a
# wheel stores as a copy), so `init` works from an installed wheel as well as from a checkout.
EXAMPLE = Path(str(files("cli") / "config.example.yaml"))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("init", help="write a commented config file (in --home when given, else the XDG config directory)")
    parser.add_argument("--path", type=Path,
                        help=f"where to write (default: HOME/config.yaml with --home or $OPENTRADE_HOME, else {default_config_path()})")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    target: Path = args.path or ctx.init_path
    if target.exists() and not args.force:
        print(f"{target} already exists; use --force to overwrite it", file=sys.stderr)
        return 1
    if not EXAMPLE.exists():
        print(f"the example configuration is missing from the installation ({EXAMPLE})", file=sys.stderr)
        return 2
    text = EXAMPLE.read_text(encoding="utf-8")
    parse_config(text, str(EXAMPLE))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    print(f"edit it, then check it with: opentrade config validate {target}")
    return 0
