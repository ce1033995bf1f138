"""SIGKILL the real engine between writing an order and its acknowledgement, restart, and
check that nothing was lost, nothing duplicated, and balances agree with the venue: with the
history in the home's SQLite file, and in PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.postgres_server import PASSWORD

TRADER = Path(__file__).with_name("trader.py")
ROOT = Path(__file__).resolve().parents[2]
ORDERS = 6


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that points the trader at its back end: none for the home's SQLite file."""
    if request.param == "sqlite":
        return {}
    return {"OPENTRADE_TEST_STORAGE_URL": request.getfixturevalue("postgres_url"), "OPENTRADE_DB_PASSWORD": PASSWORD}


def run(home: Path, *args: str, kill_at: str | None = None,
        storage: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENTRADE_KILL_AT"}
    env.update(storage or {})
    env["PYTHONPATH"] = str(ROOT)
    if kill_at:
        env["OPENTRADE_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, str(TRADER), str(home), *args], capture_output=True, text=True, env=env, timeout=120
    )


def state(home: Path, storage: dict[str, str] | None = None) -> dict:
    done = run(home, "state", storage=storage)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_consistent(s: dict) -> None:
    for coid, status in s["venue"].items():
        assert s["db"][coid] == status, f"{coid}: database says {s['db'][coid]}, venue says {status}"
        assert Decimal(s["db_filled"][coid]) == Decimal(s["venue_filled"][coid])
    db_open = sorted(c for c, st in s["db"].items() if st in ("open", "partially_filled", "pending_new"))
    assert db_open == s["venue_open"]
    assert s["portfolio_balances"] == s["venue_balances"]
    assert s["fill_ids_unique"]
    assert s["audit_ok"]


@pytest.mark.parametrize(
    ("kill_at", "victim", "reached_venue"),
    [
        ("after_persist:4", "crash-3", False),  # a resting limit order, written but never sent
        ("after_ack:4", "crash-3", True),  # accepted by the venue, acknowledgement never applied
        ("after_persist:3", "crash-2", False),  # a market order, written but never sent
        ("after_ack:3", "crash-2", True),  # a market order filled at the venue, fill never applied
    ],
)
def test_sigkill_between_write_and_acknowledgement(
    tmp_path: Path, storage: dict[str, str], kill_at: str, victim: str, reached_venue: bool
) -> None:
    home = tmp_path / "home"
    killed = run(home, "trade", str(ORDERS), kill_at=kill_at, storage=storage)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (home / "opentrade.sqlite").exists() != bool(storage), "the history is where the back end keeps it"

    after_restart = state(home, storage)
    assert_consistent(after_restart)
    assert victim in after_restart["db"], "the order was written before it was sent, so it is never lost"
    if reached_venue:
        assert after_restart["db"][victim] == after_restart["venue"][victim]
        assert after_restart["db"][victim] in ("open", "filled")
    else:
        assert victim not in after_restart["venue"]
        assert after_restart["db"][victim] == "rejected"

    resumed = run(home, "trade", str(ORDERS), storage=storage)
    assert resumed.returncode == 0, resumed.stderr
    final = state(home, storage)
    assert_consistent(final)
    assert sorted(final["db"]) == [f"crash-{i}" for i in range(ORDERS)]
    market_orders = [f"crash-{i}" for i in range(ORDERS) if i % 3 == 2]
    expected_fills = sum(final["db"][c] == "filled" for c in market_orders)
    assert final["fills"] >= expected_fills
    assert len(final["venue"]) == ORDERS - (0 if reached_venue else 1)


def test_an_uninterrupted_session_is_consistent(tmp_path: Path, storage: dict[str, str]) -> None:
    home = tmp_path / "home"
    done = run(home, "trade", str(ORDERS), storage=storage)
    assert done.returncode == 0, done.stderr
    final = state(home, storage)
    assert_consistent(final)
    assert all(status in ("open", "filled") for status in final["db"].values())
