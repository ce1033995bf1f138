"""The real `opentrade` command in a real terminal: tmux runs it at 120x40, the test types
keys with send-keys and reads the screen with capture-pane."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TMUX = shutil.which("tmux")
POLL_S = 0.1
MAX_POLLS = 150


def opentrade_command() -> str:
    installed = Path(sys.executable).parent / "opentrade"
    found = str(installed) if installed.exists() else shutil.which("opentrade")
    if found is None:
        pytest.fail("the opentrade command is not installed (pip install -e .)")
    return found


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        # COLUMNS/LINES from the test runner would override the pane size inside the app.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run([TMUX, "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=check, timeout=10, env=env)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "ot").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "ot", *keys)

    def wait_until(self, done: Callable[[str], bool], what: str) -> str:
        """Poll the pane (bounded) until ``done``: waiting for a process, not for time."""
        screen = ""
        for _ in range(MAX_POLLS):
            screen = self.screen()
            if done(screen):
                return screen
            time.sleep(POLL_S)
        raise AssertionError(f"{what} did not happen; the screen shows:\n{screen}")

    def wait_for(self, text: str) -> str:
        return self.wait_until(lambda screen: text in screen, f"{text!r} appearing")

    def running(self) -> bool:
        return self.tmux("has-session", "-t", "ot", check=False).returncode == 0

    def quit(self) -> None:
        """ctrl+q, then wait (bounded) for the process to end."""
        self.keys("C-q")
        for _ in range(MAX_POLLS):
            if not self.running():
                break
            time.sleep(POLL_S)
        assert not self.running(), "opentrade did not exit on ctrl+q"


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if TMUX is None:
        pytest.skip("tmux is not installed (.ci/run installs it)")
    term = Terminal(f"opentrade-e2e-{os.getpid()}-{tmp_path.name}")
    command = f"{opentrade_command()} --home {tmp_path / 'home'} trade --seed 5"
    term.tmux("new-session", "-d", "-s", "ot", "-x", "120", "-y", "40", command)
    try:
        yield term
    finally:
        term.tmux("kill-server", check=False)


def shown_price(screen: str) -> Decimal | None:
    """The order ticket's price field as the screen shows it; None while it is empty (between
    Ctrl+U clearing it and the digits typed next, a paint may come)."""
    found = re.search(r"│ Price +([0-9.]+) ", screen)
    return Decimal(found.group(1)) if found is not None else None


def ticket_price(screen: str) -> Decimal:
    price = shown_price(screen)
    assert price is not None, f"no price in the ticket:\n{screen}"
    return price


def test_trade_by_keyboard_in_a_real_terminal(terminal: Terminal) -> None:
    terminal.wait_for("Order ticket")
    screen = terminal.wait_for("PAPER")  # the engine is ready: the status bar names the venue's mode
    assert "BTC/USDT" in screen
    terminal.wait_for("spread")

    terminal.keys("p")
    screen = terminal.wait_until(lambda screen: "limit price" not in screen, "the price filling in")
    bid = ticket_price(screen)
    terminal.keys("o")
    terminal.wait_until(lambda screen: "b Buy" not in screen, "the size field taking focus")
    terminal.keys("0.01")
    terminal.wait_until(lambda screen: "Notional -" not in screen, "the preview showing the notional")
    # Half a percent under the bid it rests for the rest of the test, whatever the seeded market
    # does in the seconds the keys take (at the bid, the flow filled it in some runs).
    resting = int(bid * Decimal("0.995"))
    terminal.keys("Tab", "Tab", "C-u", str(resting))
    terminal.wait_until(lambda screen: shown_price(screen) == resting, "the price typed over the bid")
    terminal.keys("Enter")
    screen = terminal.wait_for("My orders (1)")
    assert "BUY  0.01000 @" in screen

    terminal.keys("Escape")
    terminal.wait_for("b Buy")  # the footer shows the screen's keys again once no field has focus
    terminal.keys("2")
    terminal.wait_for("Positions & Orders")
    terminal.keys("?")
    terminal.wait_for("OpenTrade keys")
    terminal.keys("Escape")
    terminal.wait_until(lambda screen: "OpenTrade keys" not in screen, "the help closing")
    terminal.keys("C")
    terminal.wait_for("Cancel all orders")
    terminal.keys("C-y")
    terminal.wait_for("Canceled 1 order")

    terminal.quit()


def test_keys_typed_before_the_first_screen_are_not_lost(terminal: Terminal) -> None:
    terminal.keys("o", "0.001")  # at once: the app is still loading
    assert "Order ticket" not in terminal.screen(), "typed before the trade screen appeared"
    terminal.wait_for("Order ticket")
    screen = terminal.wait_until(lambda shown: any("Size" in line and "0.001" in line for line in shown.splitlines()),
                                 "the size typed during the start-up showing in the ticket")
    assert "b Buy" not in screen, "the size field has the focus: the footer shows no single-letter keys"


def test_the_reports_screen_and_the_report_command_beside_the_running_app(terminal: Terminal, tmp_path: Path) -> None:
    terminal.wait_for("PAPER")  # ready: while the engine starts, the other screens are refused
    terminal.keys("8")
    screen = terminal.wait_for("Funding")
    assert "Profit factor" in screen and "Funding is in Net P&L" in screen and "d Day" in screen

    home = ["--home", str(tmp_path / "home")]
    ran = subprocess.run([opentrade_command(), *home, "report", "--json"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert ran.returncode == 0, ran.stderr
    assert '"period": "all"' in ran.stdout, "read beside the engine that holds the home"
    refused = subprocess.run([opentrade_command(), *home, "report", "--strategy", "nope"], capture_output=True,
                             text=True, timeout=60, check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("opentrade report: unknown strategy 'nope'")
    assert terminal.running()
    terminal.quit()
