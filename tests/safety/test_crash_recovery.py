"""SIGKILL a scripted session at 26 points (order written / acknowledged / fill recorded /
cancel acknowledged / mid-reconciliation / the paper venue's own save), restart, finish the
session, and compare with a session that was never killed.

What must match: the same orders in the database, none sent twice (the venue accepted each
client order id once), database and venue agree on every order and on what is open, balances
agree between venue, portfolio and the database's latest snapshot, fills are unique and add up
to each order's filled size, the audit chain is intact. Statuses may differ only where the kill
decided them: an order written but never sent is rejected, a limit order's fate follows the
(restarted) market.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

SESSION = Path(__file__).with_name("crash_session.py")
ROOT = Path(__file__).resolve().parents[2]
KILL_POINTS = (
    [f"after_persist:{n}" for n in range(1, 9)]
    + [f"after_ack:{n}" for n in range(1, 9)]
    + ["after_cancel_ack:1", "after_cancel_ack:2"]
    + ["after_fill_record:1", "after_fill_record:3", "after_fill_record:5"]
    + ["mid_reconcile:1", "mid_reconcile:2"]
    + ["paper_after_save:2", "paper_after_save:6", "paper_after_save:10"]
)
LIMIT_ORDERS = {"s-0", "s-4"}


def run(home: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENTRADE_KILL_AT"}
    env["PYTHONPATH"] = str(ROOT)
    if kill_at:
        env["OPENTRADE_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, str(SESSION), str(home)], capture_output=True, text=True, env=env, timeout=120)


def consistent(s: dict[str, Any]) -> list[str]:
    problems = []
    for coid, status in s["venue"].items():
        if s["db"][coid] != status:
            problems.append(f"{coid}: database {s['db'][coid]}, venue {status}")
        if Decimal(s["db_filled"][coid]) != Decimal(s["venue_filled"][coid]):
            problems.append(f"{coid}: filled {s['db_filled'][coid]} in the database, {s['venue_filled'][coid]} at the venue")
        if Decimal(s["fill_sum"][coid]) != Decimal(s["db_filled"][coid]):
            problems.append(f"{coid}: fills add up to {s['fill_sum'][coid]}, order says {s['db_filled'][coid]}")
    for coid, status in s["db"].items():
        if coid not in s["venue"] and not (status == "rejected" and "never reached the venue" in s["reasons"][coid]):
            problems.append(f"{coid}: {status} in the database but unknown to the venue")
    if s["venue_accepted"] != len(s["venue"]):
        problems.append(f"the venue accepted {s['venue_accepted']} orders for {len(s['venue'])} client order ids")
    db_open = sorted(c for c, st in s["db"].items() if st in ("open", "partially_filled", "pending_new"))
    if db_open != s["venue_open"]:
        problems.append(f"open in the database {db_open}, at the venue {s['venue_open']}")
    if not s["portfolio_balances"] == s["venue_balances"] == s["db_balances"]:
        problems.append(f"balances: portfolio {s['portfolio_balances']}, venue {s['venue_balances']}, db {s['db_balances']}")
    if Decimal(s["position"]) != Decimal(s["venue_balances"].get("BTC", "0")):
        problems.append(f"the portfolio holds {s['position']} BTC, the venue {s['venue_balances'].get('BTC')}")
    if not s["fill_ids_unique"]:
        problems.append("a fill was recorded twice")
    if not s["audit_ok"]:
        problems.append("the audit chain is broken")
    return problems


def compared(reference: dict[str, Any], s: dict[str, Any]) -> list[str]:
    if sorted(s["db"]) != sorted(reference["db"]):
        return [f"orders {sorted(s['db'])} instead of {sorted(reference['db'])}"]
    problems = []
    diverged = False  # once an order was lost to the kill, later orders may meet another account
    for coid in sorted(reference["db"], key=lambda c: int(c.split("-")[1])):
        expected, got = reference["db"][coid], s["db"][coid]
        never_sent = got == "rejected" and coid not in s["venue"]
        market_path = coid in LIMIT_ORDERS and {got, expected} <= {"open", "partially_filled", "filled"}
        if got != expected and not (never_sent or market_path or diverged):
            problems.append(f"{coid}: {got}, never-killed run: {expected}")
        diverged = diverged or never_sent
    return problems


def killed_then_resumed(base: Path, kill_at: str) -> tuple[str, list[str]]:
    home = base / kill_at.replace(":", "-")
    killed = run(home, kill_at)
    if killed.returncode != -signal.SIGKILL:
        return kill_at, [f"not killed (exit {killed.returncode}): {killed.stderr[-500:]}"]
    resumed = run(home)
    if resumed.returncode != 0:
        return kill_at, [f"restart failed: {resumed.stderr[-2000:]}"]
    return kill_at, resumed.stdout


def test_sigkill_at_26_points_then_restart_matches_a_run_never_killed(tmp_path: Path) -> None:
    assert len(KILL_POINTS) >= 20
    with ThreadPoolExecutor(max_workers=4) as pool:
        reference_run = pool.submit(run, tmp_path / "reference")
        outcomes = list(pool.map(lambda k: killed_then_resumed(tmp_path, k), KILL_POINTS))
    done = reference_run.result()
    assert done.returncode == 0, done.stderr
    reference = json.loads(done.stdout)
    assert consistent(reference) == []
    failures = {}
    for kill_at, outcome in outcomes:
        if isinstance(outcome, list):
            failures[kill_at] = outcome
            continue
        state = json.loads(outcome)
        problems = consistent(state) + compared(reference, state)
        if problems:
            failures[kill_at] = problems
    assert failures == {}
