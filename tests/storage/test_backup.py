"""`opentrade backup PATH`: a consistent copy taken while orders are being written, verified
before it is kept, readable by its owner only, with its anchor; and a restore from it."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from cli.main import main
from core.models import OrderStatus
from core.storage import Database, verify_audit_file
from core.storage.anchor import read_anchor
from core.storage.backup import backup_database
from core.storage.errors import DamagedDatabaseError
from tests.storage.conftest import make_order
from tests.storage.tamper import overwrite_pages


async def _write_orders(db: Database, first: int, count: int) -> None:
    """Each order written as created, then as open: two rows and two audit entries."""
    for n in range(first, first + count):
        order = make_order(n)
        await db.record_order(order, "created", new=True)
        order.transition(OrderStatus.OPEN, order.updated_ts + 1)
        await db.record_order(order, "open")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_copy_taken_while_orders_are_written_is_consistent(isolated_home: Path, tmp_path: Path) -> None:
    db_path, anchor = isolated_home / "opentrade.sqlite", isolated_home / "audit-anchor"
    db = await Database.open(db_path, anchor=anchor)
    await _write_orders(db, 0, 50)
    writing = asyncio.create_task(_write_orders(db, 50, 200))
    await asyncio.sleep(0)
    target = tmp_path / "copy.sqlite"
    report = await asyncio.to_thread(backup_database, db_path, target, read_anchor(anchor))
    await writing
    await db.close()

    copy = sqlite3.connect(target)
    orders = copy.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    assert 50 <= orders < 250, "taken while the orders were being written"
    # every order with all of its rows, every row with its audit entry: one moment, not pages of several
    assert copy.execute(
        "SELECT COUNT(*) FROM orders o WHERE (SELECT COUNT(*) FROM order_events e WHERE e.client_order_id = "
        "o.client_order_id) != CASE o.status WHEN 'open' THEN 2 ELSE 1 END"
    ).fetchone() == (0,)
    assert copy.execute(
        "SELECT COUNT(*) FROM order_events e LEFT JOIN audit_log a ON a.seq = e.audit_seq WHERE a.seq IS NULL"
    ).fetchone() == (0,)
    head = copy.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy.close()
    assert (await verify_audit_file(target)).ok
    assert report.head == head and report.entries == head[0]
    assert report.anchor == tmp_path / "copy.sqlite.audit-anchor"
    assert read_anchor(report.anchor) is not None and read_anchor(report.anchor).seq == head[0]  # type: ignore[union-attr]
    assert _mode(target) == 0o600 and _mode(report.anchor) == 0o600


async def test_the_command_copies_refuses_to_overwrite_and_restores(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path, anchor = isolated_home / "opentrade.sqlite", isolated_home / "audit-anchor"
    db = await Database.open(db_path, anchor=anchor)
    await _write_orders(db, 0, 3)
    await db.close()
    target = tmp_path / "backups" / "monday.sqlite"
    target.parent.mkdir()
    assert main(["backup", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"copied to {target}" in out and "copy verified: 6 audit entries" in out
    assert f"copy {target} to {db_path} and {target}.audit-anchor to {anchor}" in out
    assert main(["backup", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err

    db = await Database.open(db_path, anchor=anchor)
    await _write_orders(db, 3, 2)  # after the backup: lost by the restore below
    await db.close()
    shutil.copy(target, db_path)
    with pytest.raises(DamagedDatabaseError, match="entries 7 to 10 were removed, or this is an older copy"):
        await Database.open(db_path, anchor=anchor)
    shutil.copy(Path(f"{target}.audit-anchor"), anchor)  # the restore as the command printed it
    db = await Database.open(db_path, anchor=anchor)
    assert len(await db.load_orders()) == 3 and (await db.verify_audit()).ok
    await db.close()


async def test_a_damaged_database_is_not_copied(isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = isolated_home / "opentrade.sqlite"
    db = await Database.open(db_path)
    await _write_orders(db, 0, 150)
    await db.close()
    overwrite_pages(db_path, (4, 8))
    assert main(["backup", str(tmp_path / "copy.sqlite")]) == 1
    err = capsys.readouterr().err
    assert "backup failed: the copy of" in err and "is damaged, so" in err and "no copy was kept" in err
    assert list(tmp_path.glob("*copy*")) == []


def test_a_home_without_a_database_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no database at .*nothing has run with this home yet"):
        main(["backup", str(tmp_path / "copy.sqlite")])
