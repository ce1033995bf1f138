"""Two engines on one home corrupted the ledger (orders filled without fills, balances off by
the missing fills). A real engine process holds the home; a second engine, headless or the
full-screen app, is refused at once with the holder's PID and command; read-only commands
still work beside it; a SIGKILLed holder leaves nothing that blocks the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "binance_BTC_USDT-1h-5000.csv"
CONFIG = """
strategies:
  sma: {kind: sma_cross, enabled: false}
agents: {enabled: false}
venues:
  paper:
    markets: [BTC/USDT]
"""
HOLDER_ARGS = ("run", "--headless", "--duration", "120", "--status-every", "60")


def opentrade(config: Path, home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "--config", str(config), "--home", str(home), *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def engine(tmp_path: Path, config: Path, isolated_home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A headless engine running on the test's home, once it says it runs."""
    log = tmp_path / "holder.log"
    with log.open("wb") as out:
        process = subprocess.Popen(opentrade(config, isolated_home, *HOLDER_ARGS), stdout=out, stderr=out, cwd=ROOT, env=env())
    try:
        for _ in range(600):  # bounded: waiting for the process, not for time to pass
            text = log.read_text()
            if "engine running" in text or process.poll() is not None:
                break
            time.sleep(0.05)
        assert "engine running" in log.read_text(), log.read_text()
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_second_engine_is_refused_and_read_only_commands_work_beside_the_first(
    engine: subprocess.Popen[bytes], config: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = f"PID {engine.pid}: opentrade --config {config} --home {isolated_home} run --headless --duration 120"

    started = time.monotonic()
    second = subprocess.run(opentrade(config, isolated_home, "run", "--headless", "--duration", "300"),
                            capture_output=True, text=True, cwd=ROOT, env=env(), timeout=120)
    assert second.returncode == 3
    # far below its duration even when a loaded machine takes seconds to start Python
    assert time.monotonic() - started < 60, "refused at once, not after its duration"
    assert holder in second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert "engine running" not in second.stderr

    # the full-screen app is refused before it takes over the terminal
    assert main(["--config", str(config), "trade"]) == 3
    assert holder in capsys.readouterr().err

    for read_only in (["audit", "verify"], ["config", "show"], ["doctor"],
                      ["backtest", "--strategy", "sma_cross", "--data", str(DATA), "--json"]):
        assert main(["--config", str(config), *read_only]) == 0, (read_only, capsys.readouterr().err)
    capsys.readouterr()

    for writer in (["backtest", "--strategy", "sma_cross", "--data", str(DATA), "--json", "--save"],
                   ["strategy", "set", "sma", "fast=5"]):
        assert main(["--config", str(config), *writer]) == 3, writer
        assert holder in capsys.readouterr().err
    assert engine.poll() is None, "the first engine runs on"


def test_a_sigkilled_engine_does_not_block_the_next_one(
    engine: subprocess.Popen[bytes], config: Path, isolated_home: Path
) -> None:
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)
    assert f"{engine.pid}\n" in (isolated_home / "engine.lock").read_text()
    restarted = subprocess.run(opentrade(config, isolated_home, "run", "--headless", "--duration", "0.5"),
                               capture_output=True, text=True, cwd=ROOT, env=env(), timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert "engine stopped" in restarted.stderr
