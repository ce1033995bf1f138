"""A venue that cannot be reached at start (here: a ccxt venue pointed at a closed port on
127.0.0.1) ended in a traceback and a process that hung until killed, its database open. It
now exits within 10 s with the reason, no secret in it, and leaves the home free."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import parse_config
from core.events import ConnectionChanged
from core.home_lock import lock_engine
from core.ports import VenueError
from runtime.wiring import build_engine
from tests.ccxt.conftest import API_KEY, API_SECRET, AutoClock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it), never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def config_text(port: int) -> str:
    return f"""
default_venue: bn
strategies: {{}}
agents: {{enabled: false}}
venues:
  paper:
    markets: [BTC/USDT]
  bn:
    exchange: binance
    mode: live
    markets: [BTC/USDT]
    api_urls: {{"*": "http://127.0.0.1:{port}"}}
    timeout_ms: 1000
"""


def test_headless_run_exits_at_once_with_the_reason(tmp_path: Path, closed_port: int) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text(closed_port))
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENTRADE_BN_API_KEY": API_KEY, "OPENTRADE_BN_SECRET": API_SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", str(config), "--home", str(home), "run", "--headless", "--duration", "600",
         "--confirm-live", "bn"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,  # within 2 s when quiet; the bound is the duration
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"opentrade: venue error: bn: binance GET http://127.0.0.1:{closed_port}/")
    assert "Cannot connect" in last
    assert "Traceback" not in done.stderr
    assert "Unclosed" not in done.stderr, "the venue's HTTP session was closed"
    assert API_KEY not in done.stderr and API_SECRET not in done.stderr
    with lock_engine(home, home / "opentrade.sqlite", "opentrade run --headless"):
        pass


async def test_a_failed_start_stops_the_venues_it_had_started(tmp_path: Path, closed_port: int) -> None:
    """The paper venue starts first, then the unreachable one fails: the paper venue's market
    loop is stopped again, so nothing is left running once the engine is closed."""
    engine = await build_engine(parse_config(config_text(closed_port)), tmp_path / "home", clock=AutoClock(start_ms=1_704_067_200_000))
    seen = engine.bus.subscribe(ConnectionChanged, maxsize=64, name="test")
    try:
        with pytest.raises(VenueError, match="Cannot connect"):
            await engine.start()
    finally:
        await engine.close()
    states = []
    while (event := seen.get_nowait()) is not None:
        assert isinstance(event, ConnectionChanged)
        states.append((event.venue, event.state))
    assert ("paper", "connected") in states
    assert states[-1] == ("paper", "disconnected")
