"""The PostgreSQL back end: a database on a server, chosen by ``storage.url``.

The driver is psycopg 3. Its synchronous connection is what the repository's design wants:
each connection lives on a thread of its own (``link.py``), a group commit runs a whole batch
there in one hop, and the operations, the audit chain's verification, the migrations and the
start-up checks are written once for both back ends over the same DB-API calls
(``dialect.py``). asyncpg offers only an async API, which would have meant a second copy of
every operation; measured on this machine, one write transaction costs the same with either
(the WAL flush dominates).

Every connection sets ``synchronous_commit`` from ``storage.synchronous`` (FULL: on), so a
COMMIT returns only once the server has flushed it: an order is durable before it is sent,
as on SQLite. A connection that is lost is not re-opened behind the engine's back: the failed
write is a storage fault, and the storage watch halts trading until a person restarts it.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.storage.dialect import Dialect, PostgresConn, synchronous_mode
from core.storage.errors import StorageError
from core.storage.link import Link

MIN_SERVER_VERSION = 110000  # partitioned tables with keys, hashtextextended
SCHEMES = ("postgresql", "postgres")


def is_postgres_url(text: str) -> bool:
    return urlsplit(text).scheme in SCHEMES


def public_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, password: str | None, synchronous: str, purpose: str) -> PostgresConn:
    """A connection in autocommit mode (transactions are the repository's own), named for
    ``pg_stat_activity``. Runs on the thread that will own it."""
    try:
        import psycopg
    except ImportError:
        raise StorageError(
            "storage.url names a PostgreSQL database, which needs the psycopg driver: "
            "pip install 'opentrade-terminal[postgres]'"
        ) from None
    try:
        raw: Any = psycopg.connect(
            url, password=password, autocommit=True, connect_timeout=10,
            application_name=f"opentrade {purpose} [{os.getpid()}]",
        )
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to the database {public_url(url)}: {_first_line(exc)}") from exc
    try:
        if raw.info.server_version < MIN_SERVER_VERSION:
            raise StorageError(
                f"the database {public_url(url)} runs PostgreSQL {raw.info.server_version // 10000}: "
                "OpenTrade needs PostgreSQL 11 or newer"
            )
        raw.execute(f"SET synchronous_commit = {'on' if synchronous == 'FULL' else 'off'}")
    except BaseException:
        raw.close()
        raise
    return PostgresConn(raw)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


async def postgres_link(url: str, password: str | None, synchronous: str = "FULL", purpose: str = "reader") -> Link:
    mode = synchronous_mode(synchronous)
    return await Link.open(partial(connect, url, password, mode, purpose), "postgresql")


class PostgresBackend:
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, password: str | None, synchronous: str, writer: Link) -> None:
        self.path: Path | None = None
        self.location = public_url(url)
        self.writer = writer
        self._url = url
        self._password = password
        self._synchronous = synchronous

    @classmethod
    async def open(cls, url: str, password: str | None, synchronous: str) -> PostgresBackend:
        return cls(url, password, synchronous, await postgres_link(url, password, synchronous, "writer"))

    async def reader(self) -> Link:
        return await postgres_link(self._url, self._password, self._synchronous)

    def open_failure(self, exc: BaseException) -> StorageError | None:
        if type(exc).__module__.startswith("psycopg"):
            return StorageError(f"cannot open database {self.location}: {_first_line(exc)}")  # type: ignore[arg-type]
        return None

    def committed(self) -> None:
        """The server checkpoints its own log."""

    def file_problem(self) -> str | None:
        """A server's database has no file of ours to lose: failed writes show its problems."""
        return None

    async def rescue(self, ts: int) -> Path:
        raise StorageError(f"the database {self.location} is on a server: there is no file to rescue")

    async def close(self, fenced: bool) -> None:
        await self.writer.close()
