"""A database that was damaged or tampered with is refused at opening, before anything is
written to it; the anchor outside the database follows the commits (coalesced, at most one
rewrite an interval) and a clean close leaves it at the last one; a clean close leaves
everything in the database file itself."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from cli.main import main
from core.storage import Database, StorageError
from core.storage import anchor as anchor_module
from core.storage.anchor import ANCHOR_INTERVAL, Anchor, read_anchor
from core.storage.errors import DamagedDatabaseError
from tests.backends import SqliteStore, Store
from tests.storage.conftest import make_order
from tests.storage.tamper import cut_off_end, overwrite_pages, rewrite_chain


@pytest.fixture
def anchor(tmp_path: Path) -> Path:
    return tmp_path / "audit-anchor"


async def _log(store: Store, anchor: Path | None, count: int = 5) -> list[tuple[int, str]]:
    """``count`` entries written and the database closed; their (seq, hash)."""
    db = await store.open(anchor=anchor)
    entries = [await db.audit("note", {"n": n}, actor="tester", ts=1000 + n) for n in range(count)]
    await db.close()
    return [(entry.seq, entry.hash) for entry in entries]


async def test_the_anchor_follows_the_commits_readable_by_its_owner_only(store: Store, anchor: Path) -> None:
    first = await _log(store, anchor, 3)
    assert read_anchor(anchor) == Anchor(*first[-1], source=str(anchor))
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    later = await _log(store, anchor, 2)
    assert later[-1][0] == 5 and read_anchor(anchor) == Anchor(*later[-1], source=str(anchor))


async def test_commits_in_a_row_share_anchor_rewrites_and_the_last_head_is_written_without_a_close(
    db_path: Path, anchor: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order placed alone commits on its own: a rewrite per commit cost it a third of its
    CPU. The anchor is rewritten at most once an interval, and still catches up by itself."""
    rewrites: list[int] = []
    write = anchor_module.write_anchor

    def counted(path: Path, seq: int, digest: str) -> None:
        rewrites.append(seq)
        write(path, seq, digest)

    monkeypatch.setattr(anchor_module, "write_anchor", counted)
    db = await Database.open(db_path, anchor=anchor)
    started = time.monotonic()
    entries = [await db.audit("note", {"n": n}, actor="tester", ts=1000 + n) for n in range(40)]
    elapsed = time.monotonic() - started
    assert len(rewrites) <= 2 + elapsed / ANCHOR_INTERVAL < len(entries), (rewrites, elapsed)
    last = Anchor(entries[-1].seq, entries[-1].hash, source=str(anchor))
    deadline = time.monotonic() + 10
    while read_anchor(anchor) != last and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert read_anchor(anchor) == last, "the newest head is written once the interval has passed"
    await db.close()
    assert rewrites[-1] == last.seq and rewrites.count(last.seq) == 1


async def test_an_existing_log_is_anchored_at_its_first_opening_with_an_anchor(store: Store, anchor: Path) -> None:
    written = await _log(store, None, 4)
    await (await store.open(anchor=anchor)).close()
    assert read_anchor(anchor) == Anchor(*written[-1], source=str(anchor))


async def test_overwritten_pages_are_refused_and_nothing_is_written(db_path: Path) -> None:
    db = await Database.open(db_path)
    for n in range(300):
        await db.record_order(make_order(n), "created", new=True)
    await db.close()
    overwrite_pages(db_path, (3, 6, 9))
    before = db_path.read_bytes()
    with pytest.raises(DamagedDatabaseError) as refused:
        await Database.open(db_path)
    message = str(refused.value)
    assert f"the database {db_path} is damaged: SQLite's integrity check (quick_check) found: Page " in message
    assert "restore the last copy made by `opentrade backup`" in message
    assert "`opentrade audit verify` tells whether the audit log is whole and names its first damaged entry" in message
    assert db_path.read_bytes() == before


async def test_entries_cut_off_with_their_head_are_caught_by_the_anchor(store: Store, anchor: Path) -> None:
    await _log(store, anchor)
    cut_off_end(store, 4)
    await (await store.open()).close()  # without the anchor, what is left looks whole
    with pytest.raises(DamagedDatabaseError) as refused:
        await store.open(anchor=anchor)
    message = str(refused.value)
    assert f"the audit log ends at entry 3 but {anchor} records entry 5: entries 4 to 5 were removed" in message
    assert f"If you restored a backup on purpose, copy the backup's .audit-anchor file over {anchor}" in message
    assert read_anchor(anchor) is not None and read_anchor(anchor).seq == 5  # type: ignore[union-attr]


async def test_a_chain_rewritten_with_fresh_hashes_is_caught_by_the_anchor(store: Store, anchor: Path) -> None:
    await _log(store, anchor)
    rewrite_chain(store, 2, '{"n":99}')
    await (await store.open()).close()
    with pytest.raises(DamagedDatabaseError, match=f"audit entry 5 does not have the hash {anchor} records"):
        await store.open(anchor=anchor)


async def test_a_recent_entry_altered_is_refused(store: Store) -> None:
    await _log(store, None)
    store.tamper("""UPDATE audit_log SET payload = '{"n":99}' WHERE seq = 4""")
    with pytest.raises(DamagedDatabaseError, match="audit entry 4 was altered") as refused:
        await store.open()
    assert f"the database {store.location} is damaged" in str(refused.value)
    recovery = "`opentrade backup`" if store.kind == "sqlite" else "pg_restore"
    assert recovery in str(refused.value)


async def test_a_log_shorter_than_its_recorded_head_is_refused(store: Store) -> None:
    await _log(store, None)
    store.tamper("DELETE FROM audit_log WHERE seq >= 4")
    with pytest.raises(DamagedDatabaseError, match="audit entries 4 to 5 are missing"):
        await store.open()


async def test_an_anchor_that_is_not_one_is_refused_with_the_way_out(store: Store, anchor: Path) -> None:
    anchor.write_text("12 abc\n")
    with pytest.raises(StorageError, match="is not an anchor .* delete the file and OpenTrade writes it again"):
        await store.open(anchor=anchor)


async def test_a_clean_close_leaves_everything_in_the_database_file(db_path: Path, tmp_path: Path) -> None:
    db = await Database.open(db_path)
    for n in range(20):
        await db.record_order(make_order(n), "created", new=True)
    await db.close()
    copy = tmp_path / "copy" / "opentrade.sqlite"
    copy.parent.mkdir()
    shutil.copy(db_path, copy)  # the file alone, as a person copying it would take it
    raw = sqlite3.connect(copy)
    assert raw.execute("SELECT COUNT(*) FROM orders").fetchone() == (20,)
    assert raw.execute("SELECT MAX(seq) FROM audit_log").fetchone() == (20,)
    raw.close()


async def test_a_file_whose_header_is_gone_is_refused_as_damaged(db_path: Path) -> None:
    await _log(SqliteStore(db_path), None)
    with db_path.open("r+b") as file:
        file.write(bytes(100))
    with pytest.raises(DamagedDatabaseError, match="is damaged: file is not a database"):
        await Database.open(db_path)


def test_audit_verify_names_the_first_entry_it_cannot_read(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = isolated_home / "opentrade.sqlite"
    asyncio.run(_log(SqliteStore(database), None, 300))
    raw = sqlite3.connect(database)
    leaves = raw.execute("SELECT pageno FROM dbstat WHERE name = 'audit_log' AND pagetype = 'leaf' ORDER BY pageno").fetchall()
    raw.close()
    overwrite_pages(database, (leaves[len(leaves) // 2][0] - 1,))  # pages count from 1 in SQLite, from 0 here
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert re.search(r"audit log BROKEN at entry (\d+): audit entries from \1 on cannot be read, the database is damaged", err)
    assert "Traceback" not in err
