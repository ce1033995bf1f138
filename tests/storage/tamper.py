"""What someone with the database in hand can do to it, outside OpenTrade: the tests' adversary."""

from __future__ import annotations

import random
from pathlib import Path

from core.storage.audit import entry_hash, record_text
from tests.backends import Store

PAGE = 4096


def cut_off_end(store: Store, from_seq: int) -> None:
    """Delete the entries from ``from_seq`` on together with the recorded head: the chain left
    verifies on its own."""
    store.tamper(f"DELETE FROM audit_log WHERE seq >= {from_seq}", "DELETE FROM audit_head")


def rewrite_chain(store: Store, seq: int, payload_json: str) -> None:
    """Replace entry ``seq``'s payload and recompute every hash from there on, head included:
    the chain left verifies on its own."""
    rows = store.rows(
        "SELECT seq, ts, kind, actor, payload, prev_hash FROM audit_log WHERE seq >= ? ORDER BY seq", (seq,)
    )
    statements = []
    prev_hash = rows[0][5]
    for number, ts, kind, actor, payload, _ in rows:
        payload = payload_json if number == seq else payload
        digest = entry_hash(prev_hash, record_text(number, ts, kind, actor, payload))
        statements.append(
            f"UPDATE audit_log SET payload = '{payload}', prev_hash = '{prev_hash}', hash = '{digest}' WHERE seq = {number}"
        )
        prev_hash = digest
    statements.append(f"UPDATE audit_head SET seq = {rows[-1][0]}, hash = '{prev_hash}'")
    store.tamper(*statements)


def overwrite_pages(db_path: Path, pages: tuple[int, ...], seed: int = 1) -> None:
    """Random bytes over whole pages (numbered from 0) of a SQLite file, as a failing disk or a
    stray write leaves them."""
    noise = random.Random(seed)
    with db_path.open("r+b") as file:
        for page in pages:
            file.seek(page * PAGE)
            file.write(bytes(noise.randrange(256) for _ in range(PAGE)))
