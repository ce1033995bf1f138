"""`opentrade audit verify` against the anchor: a log cut short together with its head, or
rewritten with fresh hashes, verifies on its own but not against the anchor in the home or a
copy of it kept elsewhere (`--anchor FILE`); on the home's SQLite file and on PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli.main import main
from tests.backends import SqliteStore, Store
from tests.postgres_server import PASSWORD
from tests.storage.tamper import cut_off_end, rewrite_chain


@pytest.fixture
def home_store(store: Store, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The home's database: its SQLite file, or the PostgreSQL database its config names."""
    if store.kind == "sqlite":
        return SqliteStore(isolated_home / "opentrade.sqlite")
    (isolated_home / "config.yaml").write_text(f"storage:\n  url: {store.location}\n")
    monkeypatch.setenv("OPENTRADE_DB_PASSWORD", PASSWORD)
    return store


@pytest.fixture
async def home(isolated_home: Path, home_store: Store) -> Path:
    """A home whose database holds five audit entries, anchored as the engine anchors them."""
    db = await home_store.open(anchor=isolated_home / "audit-anchor")
    for n in range(5):
        await db.audit("note", {"n": n}, actor="tester", ts=1000 + n)
    await db.close()
    return isolated_home


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["audit", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_intact_log_matches_its_anchor(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys)
    assert code == 0
    assert f"audit log intact: 5 entries verified; entry 5 matches {home / 'audit-anchor'}" in out


def test_entries_cut_off_together_with_the_head_row_are_reported(
    home: Path, home_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    cut_off_end(home_store, 3)
    code, out = verify(capsys)
    assert code == 1
    assert "audit log BROKEN at entry 3" in out
    assert f"the audit log ends at entry 2 but {home / 'audit-anchor'} records entry 5: entries 3 to 5 were removed" in out


def test_a_chain_rewritten_with_fresh_hashes_is_reported(
    home: Path, home_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite_chain(home_store, 2, '{"n":99}')
    code, out = verify(capsys)
    assert code == 1
    assert "audit log BROKEN at entry 5: audit entry 5 does not have the hash" in out
    assert "the log was rewritten" in out


def test_a_copy_of_the_anchor_kept_elsewhere_catches_what_the_home_lost(
    home: Path, home_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "elsewhere" / "anchor.json"
    kept.parent.mkdir()
    shutil.copy(home / "audit-anchor", kept)
    assert verify(capsys, "--anchor", str(kept))[0] == 0
    cut_off_end(home_store, 4)
    (home / "audit-anchor").unlink()  # whoever cut the log removed the anchor in the home as well
    code, out = verify(capsys)
    assert code == 0 and "no anchor to compare with" in out
    code, out = verify(capsys, "--anchor", str(kept))
    assert code == 1
    assert "records entry 5: entries 4 to 5 were removed" in out and str(kept) in out


def test_an_anchor_that_is_missing_or_not_an_anchor_is_a_clear_error(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit, match="--anchor .*nothing.json: no such file"):
        main(["audit", "verify", "--anchor", str(tmp_path / "nothing.json")])
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\xff\xfe not an anchor")
    code, out = verify(capsys, "--anchor", str(garbage))
    assert code == 1 and out.startswith(f"opentrade: the audit anchor {garbage} cannot be read")
