"""The start-up check: a damaged database is refused before anything is written to it.

Trading on a file whose pages were overwritten, or appending to an audit chain that no longer
holds, would add honest records to dishonest ones. ``Database.open`` runs these checks and
raises ``DamagedDatabaseError`` with what is wrong and how to recover:

- SQLite's ``PRAGMA quick_check`` (the b-trees and their pages; 0.17 s on a 185 MB database of
  100,000 orders and 200,000 audit entries, warm cache), before the migrations touch the file;
- the schema version (``migrations.migrate`` refuses a newer one);
- the last ``TAIL_ENTRIES`` links of the audit chain, its recorded head, and the anchor kept
  outside the database (``anchor.py``). The whole chain takes 1.3 s on the same file, too long
  for every start: ``opentrade audit verify`` does that.

On PostgreSQL the schema version, the chain's tail, its head and the anchor are checked the
same way. There is no quick_check: the server owns its pages (data checksums, which ``initdb
--data-checksums`` turns on, and the amcheck extension are its tools), and a client reading
every page at each start would cost what the server already does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.storage.anchor import Anchor
from core.storage.audit import anchor_problem, verify_tail
from core.storage.dialect import Conn, SqliteConn
from core.storage.errors import FILE_RECOVERY, SERVER_RECOVERY, DamagedDatabaseError

TAIL_ENTRIES = 1000
PROBLEMS_SHOWN = 3


def page_problems(conn: sqlite3.Connection) -> str | None:
    """What ``PRAGMA quick_check`` found, in a line, or None when it found nothing."""
    try:
        rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    if rows == ["ok"]:
        return None
    # one row may hold several lines, under headings such as "*** in database main ***"
    problems = [line for row in rows for line in row.splitlines() if line and not line.startswith("***")]
    shown = "; ".join(problems[:PROBLEMS_SHOWN])
    more = f" (and {len(problems) - PROBLEMS_SHOWN} more)" if len(problems) > PROBLEMS_SHOWN else ""
    return f"SQLite's integrity check (quick_check) found: {shown}{more}"


def check_pages(conn: SqliteConn, path: Path) -> None:
    problem = page_problems(conn.raw)
    if problem is not None:
        raise DamagedDatabaseError.of(path, problem)


def check_chain(conn: Conn, where: str, anchor: Anchor | None) -> None:
    recovery = FILE_RECOVERY if conn.dialect == "sqlite" else SERVER_RECOVERY
    result = verify_tail(conn, TAIL_ENTRIES)
    if not result.ok:
        raise DamagedDatabaseError.of(where, result.message, recovery=recovery)
    if anchor is None:
        return
    problem = anchor_problem(conn, anchor)
    if problem is not None:
        raise DamagedDatabaseError.of(where, problem, anchor.source, recovery=recovery)
