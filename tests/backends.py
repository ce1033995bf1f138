"""The two storage back ends as the tests see them: open the repository, and reach the
database from outside OpenTrade (to check what was committed, or to tamper with it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from core.config import StorageConfig
from core.ports import Clock
from core.storage import Database
from core.storage.link import Link
from core.storage.postgres import postgres_link
from core.storage.sqlite import sqlite_link
from core.storage.target import StorageTarget
from tests.postgres_server import PASSWORD


class Store(Protocol):
    kind: str
    location: str

    async def open(self, *, clock: Clock | None = None, anchor: Path | None = None,
                   synchronous: str = "FULL") -> Database: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``sql`` on a connection of its own, committed: what another program would see or do."""

    def tamper(self, *statements: str) -> None:
        """Run SQL past the triggers that keep the audit log append-only."""

    def config(self) -> StorageConfig: ...

    def target(self) -> StorageTarget: ...

    async def link(self) -> Link:
        """A writer's connection of its own, as the repository opens one."""

    def env(self) -> dict[str, str]:
        """What a subprocess needs in its environment to reach the database."""


class SqliteStore:
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    async def open(self, *, clock: Clock | None = None, anchor: Path | None = None,
                   synchronous: str = "FULL") -> Database:
        return await Database.open(self.path, synchronous=synchronous, clock=clock, anchor=anchor)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raw = sqlite3.connect(self.path)
        try:
            found = raw.execute(sql, params).fetchall()
            raw.commit()
            return found
        finally:
            raw.close()

    def tamper(self, *statements: str) -> None:
        self.rows("DROP TRIGGER IF EXISTS audit_log_no_update")
        self.rows("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for sql in statements:
            self.rows(sql)

    def config(self) -> StorageConfig:
        return StorageConfig(path=self.path)

    def target(self) -> StorageTarget:
        return StorageTarget(path=self.path)

    async def link(self) -> Link:
        return await sqlite_link(self.path)

    def env(self) -> dict[str, str]:
        return {}


class PostgresStore:
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = url

    async def open(self, *, clock: Clock | None = None, anchor: Path | None = None,
                   synchronous: str = "FULL") -> Database:
        return await Database.connect(self.url, PASSWORD, synchronous=synchronous, clock=clock, anchor=anchor)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, password=PASSWORD, autocommit=True) as raw:
            cursor = raw.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def tamper(self, *statements: str) -> None:
        self.rows("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for sql in statements:
            self.rows(sql)

    def config(self) -> StorageConfig:
        return StorageConfig(url=self.url)

    def target(self) -> StorageTarget:
        return StorageTarget(url=self.url, password=PASSWORD)

    async def link(self) -> Link:
        return await postgres_link(self.url, PASSWORD, purpose="writer")

    def env(self) -> dict[str, str]:
        return {"OPENTRADE_DB_PASSWORD": PASSWORD}
