"""A grid strategy run as a real process, SIGKILLed at seeded random points and restarted: its
open orders stay one ladder (one order per rung, no duplicates) and the ledger stays whole."""

from __future__ import annotations

import random
import signal
from decimal import Decimal
from pathlib import Path

from tests.crash.test_crash import assert_consistent, run, state

LEVELS = [Decimal(59_000 + 50 * k) for k in range(41)]  # trader.GRID: 59000-61000, 41 levels
# kill point -> times it is passed in a run, at least (the 21 working orders are reconciled at
# each start; a run sees a few fills, each answered by one order and one saved ladder)
KILL_POINTS = {"after_persist": 3, "after_ack": 3, "after_fill_record": 2, "mid_reconcile": 21, "after_strategy_state": 3}
SECONDS = 90  # simulated seconds per run: a few fills each


def ladder(s: dict) -> list[dict]:
    """The grid's open orders, checked to be one ladder: at grid prices, one per price, buys
    under sells."""
    orders = [o for o in s["open_orders"] if o["strategy"] == "grid"]
    prices = [Decimal(o["price"]) for o in orders]
    assert len(prices) == len(set(prices)), f"several orders at one price: {sorted(prices)}"
    assert set(prices) <= set(LEVELS), f"orders off the grid: {sorted(set(prices) - set(LEVELS))}"
    buys = [Decimal(o["price"]) for o in orders if o["side"] == "buy"]
    sells = [Decimal(o["price"]) for o in orders if o["side"] == "sell"]
    assert not buys or not sells or max(buys) < min(sells)
    return orders


def assert_known(s: dict, orders: list[dict]) -> None:
    """The open orders are exactly the ladder the grid saved, with one sell per level it holds,
    and what it holds is what its fills add up to."""
    saved = s["grid_state"]
    assert {o["id"] for o in orders} == set(saved["ladder"])
    assert sum(o["side"] == "sell" for o in orders) == len(saved["holdings"])
    held = sum(Decimal(size) * (1 if side == "buy" else -1) for side, size in s["grid_fills"])
    assert held == Decimal("0.001") * len(saved["holdings"])


def test_a_clean_restart_keeps_the_ladder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "grid", "5")
    assert done.returncode == 0, done.stderr
    first = state(home)
    before = ladder(first)
    done = run(home, "grid", "5")
    assert done.returncode == 0, done.stderr
    second = state(home)
    after = ladder(second)
    assert len(before) == len(after) == 21
    assert {o["id"] for o in before} & {o["id"] for o in after}, "the working orders were adopted, not replaced"
    assert_known(first, before)
    assert_known(second, after)


def test_a_grid_killed_ten_times_keeps_one_ladder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "grid", str(SECONDS))
    assert done.returncode == 0, done.stderr
    rungs = len(ladder(state(home)))
    rng = random.Random(2024)
    kills = 0
    for _ in range(10):
        point = rng.choice(sorted(KILL_POINTS))
        kill_at = f"{point}:{rng.randint(1, KILL_POINTS[point])}"
        done = run(home, "grid", str(SECONDS), kill_at=kill_at)
        assert done.returncode in (0, -signal.SIGKILL), done.stderr
        kills += done.returncode == -signal.SIGKILL
    done = run(home, "grid", str(SECONDS))
    assert done.returncode == 0, done.stderr
    final = state(home)
    assert_consistent(final)
    orders = ladder(final)
    assert len(orders) == rungs, "every rung is there once: none lost, none added"
    assert_known(final, orders)
    assert kills >= 8, f"only {kills} of the 10 runs were killed"
