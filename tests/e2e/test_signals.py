"""SIGINT and SIGTERM stop the real `opentrade trade` command cleanly, during the start-up and
after it: the process ends with 128 + the signal, and what it opened was closed in order (every
engine start has its stop in the audit log, the hash chain verifies, the database is intact), no
order was placed and, when the signal came during the start-up, no strategy was started."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from core.storage.audit_tools import verify_audit_file
from tests.e2e.test_tmux import opentrade_command

pytestmark = pytest.mark.e2e

MAX_WAIT_S = 30
STARTING = b"engine starting"  # the Trade screen's status bar until the engine is ready
STARTED = b"spread"  # the order book's ladder: the market is on screen


class Command:
    """The command on a pseudo-terminal of 120x40, read until it shows a given text."""

    def __init__(self, home: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        self.process = subprocess.Popen([opentrade_command(), "--home", str(home), "trade", "--seed", "5"],
                                        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                        start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = b""

    def read_until(self, text: bytes) -> None:
        """Bounded: the output, polled until ``text`` shows or the process ends."""
        deadline = time.monotonic() + MAX_WAIT_S
        while text not in self.output and time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                self.output += os.read(self.master, 65536)
        assert text in self.output, f"{text!r} never showed"

    def end(self) -> int:
        """The exit code; the pty is drained meanwhile so the process never blocks writing."""
        deadline = time.monotonic() + MAX_WAIT_S
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        try:
            return self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError("the process did not end after the signal") from None
        finally:
            os.close(self.master)


def closed_in_order(home: Path) -> list[str]:
    """The audit log's kinds, after checking that whatever was opened was closed consistently."""
    database = home / "opentrade.sqlite"
    if not database.exists():
        return []
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "audit_log" not in tables:
            return []
        kinds = [row[0] for row in conn.execute("SELECT kind FROM audit_log ORDER BY seq")]
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,), "no order was placed"
    verification = asyncio.run(verify_audit_file(database))
    assert verification.ok, verification.message
    assert kinds.count("engine_start") == kinds.count("engine_stop"), kinds
    if kinds:
        assert kinds[-1] == "engine_stop", kinds
    return kinds


def strategies_started(home: Path) -> bool:
    log = home / "logs" / "opentrade.log"
    text = log.read_text() if log.exists() else ""
    return "started on the running engine" in text or "running on paper" in text


def wait_for_library(pid: int, name: str) -> None:
    """Until the process has loaded the compiled library ``name``: it is importing what loads it."""
    maps = Path(f"/proc/{pid}/maps")
    deadline = time.monotonic() + MAX_WAIT_S
    while name not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert name in maps.read_text(), f"{name} was never loaded"


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + MAX_WAIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert path.exists(), f"{path} never appeared"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", ["app-loading", "engine-starting"])
def test_a_signal_during_the_start_up_stops_it_cleanly(tmp_path: Path, sig: signal.Signals, moment: str) -> None:
    home = tmp_path / "home"
    command = Command(home)
    if moment == "app-loading":
        wait_for_file(home / "logs" / "opentrade.log")  # the command runs, the app is not up yet
    else:
        command.read_until(STARTING)  # the engine is being built and started
    command.process.send_signal(sig)
    assert command.end() == 128 + sig
    closed_in_order(home)
    assert not strategies_started(home)
    assert STARTED not in command.output, "the market never showed: the start-up stopped"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_command_imports_ends_it_quietly(tmp_path: Path, sig: signal.Signals) -> None:
    """The first third of a second is imports (the configuration's models load pydantic's
    compiled core first): a ctrl+c there used to print a KeyboardInterrupt traceback, and a
    SIGTERM killed the process (-15)."""
    home = tmp_path / "home"
    command = Command(home)
    wait_for_library(command.process.pid, "pydantic_core")
    command.process.send_signal(sig)
    assert command.end() == 128 + sig
    assert b"Traceback" not in command.output and b"KeyboardInterrupt" not in command.output, command.output
    closed_in_order(home)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_the_start_up_stops_the_engine_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    home = tmp_path / "home"
    command = Command(home)
    command.read_until(STARTED)
    command.process.send_signal(sig)
    assert command.end() == 128 + sig
    assert closed_in_order(home)[:1] == ["engine_start"]
