"""The command's progress bar, read from a real terminal (a pseudo-terminal on standard error):
evaluations done out of the total, the rate and the time remaining; nothing with --json or
when standard error is not a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
OPTIMIZE = [sys.executable, "-m", "cli.main", "optimize", "--strategy", "sma_cross", "--symbol", "BTC/USDT", "--data",
            str(DATA / "binance_BTC_USDT-1h-5000.csv"), "--population", "40", "--generations", "10"]


def on_a_terminal(argv: list[str], home: Path) -> tuple[int, str, str]:
    """Run with standard error on a pseudo-terminal; (exit code, standard output, what the terminal showed)."""
    leader, follower = os.openpty()
    env = {**os.environ, "COLUMNS": "100", "LINES": "30", "TERM": "xterm-256color", "OPENTRADE_HOME": str(home)}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the command ends
            break
        if not chunk:
            break
        shown += chunk
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    return process.returncode, out.decode(), ANSI.sub("", shown.decode(errors="replace")).replace("\r", "\n")


def test_the_bar_shows_evaluations_done_rate_and_time_remaining(tmp_path: Path) -> None:
    code, out, shown = on_a_terminal(OPTIMIZE, tmp_path)
    assert code == 0 and "best of" in out
    total = 40 * 10
    frames = [line for line in shown.splitlines() if "evaluations" in line]
    assert frames and all(line.startswith("genetic sma_cross") and "ETA" in line for line in frames)
    done = [int(m.group(1)) for line in frames if (m := re.search(rf"(\d+)/{total} evaluations", line))]
    assert done == sorted(done) and any(0 < d < total for d in done), "the bar moves while the search runs"
    assert re.search(rf"{total}/{total} evaluations [\d,]+/s ETA 0:00:00", frames[-1])


def test_no_bar_with_json_or_without_a_terminal(tmp_path: Path) -> None:
    code, out, shown = on_a_terminal([*OPTIMIZE, "--json"], tmp_path)
    assert code == 0 and out.startswith("{") and "evaluations" not in shown
    piped = subprocess.run(OPTIMIZE, cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "OPENTRADE_HOME": str(tmp_path)})
    assert piped.returncode == 0 and piped.stderr == "" and "best of" in piped.stdout
