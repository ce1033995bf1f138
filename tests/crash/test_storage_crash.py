"""The real `opentrade run` on storage that fails: a database whose pages were overwritten is
refused at start, and a disk that fills up while a grid trades halts trading and still lets
the run end on time and close cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.crash.test_crash import run as run_trader
from tests.storage.tamper import overwrite_pages

ROOT = Path(__file__).resolve().parents[2]
GRID = """\
risk_management: {max_position_size: 100000, max_daily_loss: 50000}
agents: {enabled: false}
strategies:
  btc_grid: {kind: grid, enabled: true, symbols: [BTC/USDT], allocation_pct: 0.1, lower: 59000, upper: 61000,
             levels: 41, order_size: 0.001}
"""


def opentrade(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), *args], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120,
    )


def test_run_refuses_a_database_with_overwritten_pages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_trader(home, "trade", "6").returncode == 0
    database = home / "opentrade.sqlite"
    overwrite_pages(database, (2, 5))
    before = database.read_bytes()

    refused = opentrade(home, "run", "--headless", "--duration", "5")
    assert refused.returncode == 1
    assert f"opentrade: the database {database} is damaged: SQLite's integrity check (quick_check) found: " in refused.stderr
    assert "OpenTrade will not trade on it" in refused.stderr and "opentrade backup" in refused.stderr
    assert "Traceback" not in refused.stderr and "engine running" not in refused.stderr
    assert database.read_bytes() == before, "nothing appended to a damaged database"


def test_a_full_disk_halts_the_run_which_still_ends_on_time_and_closes(tmp_path: Path) -> None:
    home, config = tmp_path / "home", tmp_path / "grid.yaml"
    config.write_text(GRID)
    started = time.monotonic()
    done = opentrade(
        home, "--config", str(config), "run", "--headless", "--duration", "3", "--status-every", "1", "--seed", "1",
        env={"OPENTRADE_DISK_FULL_AT": "commit:25"},
    )
    elapsed = time.monotonic() - started
    log = done.stderr
    assert done.returncode == 1, log
    assert elapsed < 3 + 15, "the run ends after --duration, not when it is killed"
    assert "storage failure, trading halted: database write failed: database or disk is full" in log
    assert "risk halted" in log and "engine stopped" in log
    assert "ended on a storage failure: database write failed: database or disk is full" in log
    assert "Traceback" not in log and "could not apply report" not in log

    # room on the disk again: what was committed before the fault is whole and anchored
    verified = opentrade(home, "--config", str(config), "audit", "verify")
    assert verified.returncode == 0 and "matches" in verified.stdout, verified.stderr
