"""The home is the trader's alone: created 0700, its database (with the -wal and -shm files),
logs, paper venue state and caches 0600; files an older version left open to others are
narrowed, with a warning that names them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.clock import SimClock
from core.storage.database import Database
from exchanges.ccxt.markets_cache import MarketsCache

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_to_others(root: Path) -> list[str]:
    return [f"{p} {mode(p):o}" for p in [root, *root.rglob("*")] if mode(p) & 0o077]


def test_a_headless_run_leaves_nothing_open_to_other_users(tmp_path: Path, isolated_home: Path) -> None:
    home = isolated_home
    os.chmod(home, 0o755)
    old_log = home / "logs" / "opentrade.log"
    old_log.parent.mkdir(mode=0o755)
    old_log.write_text("written by an older version\n")
    os.chmod(old_log, 0o644)
    config = tmp_path / "config.yaml"
    config.write_text("strategies: {}\nagents: {enabled: false}\n")
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", str(config), "--home", str(home), "run", "--headless", "--duration", "0.5"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert open_to_others(home) == []
    assert mode(home) == 0o700 and mode(home / "opentrade.sqlite") == 0o600 and mode(home / "paper-paper.sqlite") == 0o600
    assert f"{home} was open to other users (mode 755); it is now 700" in done.stderr
    assert f"{old_log} was open to other users (mode 644); it is now 600" in done.stderr


async def test_the_database_and_its_journal_are_private_while_open(tmp_path: Path) -> None:
    path = tmp_path / "opentrade.sqlite"
    db = await Database.open(path)
    try:
        await db.set_state("probe", "1")
        journals = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(p.exists() for p in journals)
        assert [mode(p) for p in (path, *journals)] == [0o600, 0o600, 0o600]
    finally:
        await db.close()


async def test_a_database_left_open_to_others_is_narrowed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "opentrade.sqlite"
    await (await Database.open(path)).close()
    os.chmod(path, 0o644)
    await (await Database.open(path)).close()
    assert mode(path) == 0o600
    assert f"{path} was open to other users (mode 644); it is now 600" in caplog.text


def test_the_markets_cache_is_private(tmp_path: Path) -> None:
    cache = MarketsCache(tmp_path / "cache" / "markets-binance.json", 3600, SimClock())
    cache.save([{"symbol": "BTC/USDT"}], {})
    assert mode(tmp_path / "cache") == 0o700 and mode(tmp_path / "cache" / "markets-binance.json") == 0o600
    assert cache.load() == ([{"symbol": "BTC/USDT"}], {})
