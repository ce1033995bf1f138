"""Plain `opentrade` with trade options runs the trade command."""

from __future__ import annotations

import pytest

from cli.main import default_to_trade

COMMANDS = ["run", "trade", "config"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ["trade"]),
        (["--home", "/tmp/h"], ["--home", "/tmp/h", "trade"]),
        (["--seed", "3"], ["trade", "--seed", "3"]),
        (["--config", "c.yaml", "--venue", "paper"], ["--config", "c.yaml", "trade", "--venue", "paper"]),
        (["--home=/tmp/h", "--theme", "opentrade-light"], ["--home=/tmp/h", "trade", "--theme", "opentrade-light"]),
        (["--home", "/tmp/h", "run", "--headless"], ["--home", "/tmp/h", "run", "--headless"]),
        (["--help"], ["--help"]),
        (["config", "show"], ["config", "show"]),
    ],
)
def test_trade_is_the_default_command(given: list[str], expected: list[str]) -> None:
    assert default_to_trade(given, COMMANDS) == expected


def test_only_the_requested_command_is_loaded() -> None:
    """Starting the app must not import what other commands need (pandas, aiohttp, ccxt)."""
    from cli.main import build_parser

    parser = build_parser(only="trade")
    actions = [a for a in parser._actions if a.dest == "command"]
    assert list(actions[0].choices) == ["trade"]  # type: ignore[union-attr]
