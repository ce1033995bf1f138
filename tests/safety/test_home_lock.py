"""The engine lock: one holder per home and per database, named in the refusal, released by the
kernel when the holder dies (SIGKILL included), and never blocked by a dead holder's file."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.home_lock import LOCK_NAME, EngineLocked, lock_engine

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from pathlib import Path
from core.home_lock import lock_engine
lock = lock_engine(Path(sys.argv[1]), Path(sys.argv[2]), "opentrade run --headless")
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of tmp_path/home and its default database."""
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home), str(home / "opentrade.sqlite")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_command(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    home = tmp_path / "home"
    with pytest.raises(EngineLocked) as refused:
        lock_engine(home, home / "opentrade.sqlite", "opentrade trade")
    assert refused.value.holder.pid == holder.pid and refused.value.path == home / LOCK_NAME
    message = str(refused.value)
    assert f"the home {home} is held by another OpenTrade process (PID {holder.pid}: opentrade run --headless)" in message
    assert "--home" in message


def test_a_sigkilled_holder_releases_the_home(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    home = tmp_path / "home"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert f"{holder.pid}\n" in (home / LOCK_NAME).read_text(), "the dead holder's record is still in the file"
    with lock_engine(home, home / "opentrade.sqlite", "opentrade trade"):
        assert (home / LOCK_NAME).read_text() == f"{os.getpid()}\nopentrade trade\n"


def test_a_released_lock_can_be_taken_again_and_its_record_is_cleared(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with lock_engine(home, home / "opentrade.sqlite", "opentrade run --headless"):
        pass
    assert (home / LOCK_NAME).read_text() == ""
    with lock_engine(home, home / "opentrade.sqlite", "opentrade trade"):
        assert stat.S_IMODE((home / LOCK_NAME).stat().st_mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_two_homes_sharing_one_database_refuse_each_other(tmp_path: Path) -> None:
    shared = tmp_path / "data" / "shared.sqlite"
    shared.parent.mkdir()
    with (lock_engine(tmp_path / "a", shared, "opentrade --home a run --headless"),
          pytest.raises(EngineLocked) as refused):
        lock_engine(tmp_path / "b", shared, "opentrade --home b run --headless")
    assert f"the database {shared} is held by another OpenTrade process" in str(refused.value)
    assert "opentrade --home a run --headless" in str(refused.value)
    # the refused home was not left locked
    with lock_engine(tmp_path / "b", shared, "opentrade --home b run --headless"):
        pass


def test_a_home_using_another_homes_default_database_is_refused(tmp_path: Path) -> None:
    first = tmp_path / "a"
    with (lock_engine(first, first / "opentrade.sqlite", "opentrade --home a trade"),
          pytest.raises(EngineLocked, match="the database")):
        lock_engine(tmp_path / "b", first / "opentrade.sqlite", "opentrade --home b trade")
