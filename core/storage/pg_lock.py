"""One engine per PostgreSQL database: a session advisory lock held for as long as it runs.

The home's lock (``core.home_lock``) keeps two engines off one home; with ``storage.url`` two
homes, on two machines even, may name one database, and two engines writing it would each
believe they own the ledger. So the command that runs the engine also takes
``pg_try_advisory_lock`` on a key derived from the database and schema, on a connection of its
own kept open until the engine stops. The server releases it when that session ends in any
way (a SIGKILLed engine's connection is closed by the kernel, and the server notices). A
second engine is refused at once, naming the holder as ``pg_stat_activity`` shows its
connection: the PID in its ``application_name`` (``opentrade[PID]``), the whole command line in
the last statement it ran (a literal, so nothing is cut at the 63 bytes an application name
keeps), and its host when it is not this one.

A lock is only as good as the session holding it: if the server restarts, the lock is gone,
but so is the engine's own connection, whose next write fails and halts trading.
"""

from __future__ import annotations

import os
import re
from typing import Any

from core.home_lock import EngineLocked, Holder
from core.redact import mask_url_passwords
from core.storage.errors import StorageError

_KEY = "hashtextextended('opentrade engine ' || current_database() || '.' || current_schema(), 0)"
_HOLDER = f"""
WITH key AS (SELECT {_KEY} AS k)
SELECT a.application_name, a.query, host(a.client_addr), a.pid
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid, key
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = ((key.k >> 32) & 4294967295)::oid AND l.objid = (key.k & 4294967295)::oid
"""
_NAME = re.compile(r"^opentrade\[(\d+)\]$")
_RECORD = re.compile(r"^SELECT 'opentrade holder: (.*)'$", re.DOTALL)
_LOCAL = (None, "127.0.0.1", "::1")


def _holder(conn: Any) -> Holder:
    row = conn.execute(_HOLDER).fetchone()
    if row is None:  # let go between the refusal and this look
        return Holder(None, "")
    name, query, host, backend = row
    where = f" on {host}" if host not in _LOCAL else ""
    match = _NAME.match(name or "")
    if match is None:
        return Holder(None, f"a session named {name!r} (server process {backend}){where}")
    record = _RECORD.match(query or "")  # hidden from a role without the right to see it
    command = record.group(1).replace("''", "'") if record else "its command line is not visible to this role"
    return Holder(int(match.group(1)), f"{command}{where}")


class AdvisoryLock:
    """Held while its connection is open."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        self._conn.close()


class PostgresEngineLock:
    """What ``core.home_lock.lock_engine`` takes for a PostgreSQL database."""

    def __init__(self, url: str, password: str | None, where: str) -> None:
        self._url = url
        self._password = password
        self._where = where

    def take(self, command: str) -> AdvisoryLock:
        import psycopg
        from psycopg import sql

        try:
            conn = psycopg.connect(
                self._url, password=self._password, autocommit=True, connect_timeout=10,
                application_name=f"opentrade[{os.getpid()}]", keepalives=1, keepalives_idle=30,
            )
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to the database {self._where}: {str(exc).strip().splitlines()[0]}") from exc
        try:
            taken = conn.execute(f"SELECT pg_try_advisory_lock({_KEY})").fetchone()
            if not (taken and taken[0]):
                raise EngineLocked(f"the database {self._where}", None, _holder(conn))
            # The statement pg_stat_activity shows for this connection from now on: who holds it.
            record = f"opentrade holder: {mask_url_passwords(command)}"
            conn.execute(sql.SQL("SELECT {}").format(sql.Literal(record)))
        except BaseException:
            conn.close()
            raise
        return AdvisoryLock(conn)
