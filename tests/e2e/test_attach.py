"""The terminal app attached to a real `opentrade gateway`, in tmux: the gateway in one session,
the app in another, orders from the scriptable CLI as a third process. The app shows the order;
a gateway killed with SIGKILL shows as "reconnecting", and once it is started again (it reconciles
its orders with the venue; on another port, with a new local token, both read from the home) the
app resumes and shows the same orders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_tmux import TMUX, Terminal, opentrade_command
from tests.gateway.test_cli import CONFIG

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.1
RESTART_POLLS = 600  # the gateway's own start (a new interpreter, the engine, the venue) under load


class Attached:
    def __init__(self, terminal: Terminal, config: Path, home: Path) -> None:
        self.terminal = terminal
        self.config = config
        self.home = home
        self.gateways = 0

    def command(self, *args: str) -> str:
        return " ".join([opentrade_command(), "--config", str(self.config), "--home", str(self.home), *args])

    def start_gateway(self) -> int:
        """`opentrade gateway` in a tmux session of its own, until it has announced itself."""
        self.gateways += 1
        self.terminal.tmux("new-session", "-d", "-s", f"gw{self.gateways}", "-x", "120", "-y", "20",
                           self.command("gateway"))
        for _ in range(RESTART_POLLS):
            pid = self.announced_pid()
            running = pid is not None and _alive(pid) and self.terminal.tmux(
                "has-session", "-t", f"gw{self.gateways}", check=False).returncode == 0
            if running and self._answers():
                return pid
            time.sleep(POLL_S)
        raise AssertionError("the gateway did not start: " + self.terminal.tmux(
            "capture-pane", "-p", "-t", f"gw{self.gateways}", check=False).stdout)

    def announced_pid(self) -> int | None:
        try:
            return int(json.loads((self.home / "gateway.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def _answers(self) -> bool:
        return self.cli("status").returncode == 0

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A scriptable command as its own process: the third terminal."""
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENTRADE_")}, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "cli.main", "--config", str(self.config), "--home", str(self.home),
                               *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)

    def wait_for(self, text: str, polls: int = RESTART_POLLS) -> str:
        return self.wait_until(lambda screen: text in screen, f"{text!r} appearing", polls)

    def wait_until(self, done: object, what: str, polls: int = RESTART_POLLS) -> str:
        screen = ""
        for _ in range(polls):
            screen = self.terminal.screen()
            if done(screen):  # type: ignore[operator]
                return screen
            time.sleep(POLL_S)
        raise AssertionError(f"{what} did not happen; the screen shows:\n{screen}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def attached(tmp_path: Path) -> Iterator[Attached]:
    if TMUX is None:
        pytest.skip("tmux is not installed (.ci/run installs it)")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    terminal = Terminal(f"opentrade-attach-{os.getpid()}-{tmp_path.name}")
    setup = Attached(terminal, config, tmp_path / "home")
    try:
        yield setup
    finally:
        pid = setup.announced_pid()
        terminal.tmux("kill-server", check=False)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_an_order_placed_from_the_cli_shows_in_the_attached_app(attached: Attached) -> None:
    attached.start_gateway()
    attached.terminal.tmux("new-session", "-d", "-s", "ot", "-x", "120", "-y", "40", attached.command("trade", "--attach"))
    attached.wait_for("Order ticket")
    attached.wait_for("spread")
    assert "Attached to the engine at http://127.0.0.1:" in attached.wait_for("Attached")

    placed = attached.cli("order", "buy", "BTC/USDT", "0.001", "--price", "59000", "--json")
    assert placed.returncode == 0, placed.stderr
    screen = attached.wait_for("My orders (1)")
    assert "BUY  0.00100 @ 59,000.00 limit" in screen

    attached.terminal.keys("C-q")
    for _ in range(RESTART_POLLS):
        if not attached.terminal.running():
            break
        time.sleep(POLL_S)
    assert not attached.terminal.running(), "the attached app did not quit on ctrl+q"
    orders = json.loads(attached.cli("orders", "--json").stdout)
    assert [o["client_order_id"] for o in orders] == [json.loads(placed.stdout)["client_order_id"]], \
        "quitting the app left the engine and its order"


def test_a_gateway_killed_while_attached_shows_reconnecting_then_the_app_resumes(attached: Attached) -> None:
    first = attached.start_gateway()
    # Plain `opentrade trade` on a home whose engine runs in a gateway: it attaches instead of failing.
    attached.terminal.tmux("new-session", "-d", "-s", "ot", "-x", "120", "-y", "40", attached.command("trade"))
    attached.wait_for("Order ticket")
    attached.wait_for("Attached to the engine")
    placed = json.loads(attached.cli("order", "buy", "BTC/USDT", "0.001", "--price", "59000", "--json").stdout)
    attached.wait_for("My orders (1)")

    os.kill(first, signal.SIGKILL)
    attached.wait_for("reconnecting")
    assert attached.terminal.running(), "the app stays up without its gateway"

    second = attached.start_gateway()
    assert second != first
    attached.wait_until(lambda screen: "reconnecting" not in screen and "My orders (1)" in screen,
                        "the app resuming with the order")
    attached.terminal.keys("2")
    attached.wait_for("Positions & Orders")
    attached.terminal.keys("o")
    attached.wait_for(placed["client_order_id"])
