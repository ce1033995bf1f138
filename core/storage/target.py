"""Where a home's history is kept: a SQLite file (the default) or a PostgreSQL database.

Commands reach the database through a ``StorageTarget`` built from the configuration, so that
every one of them (the engine, `strategy set`, `backtest --save`, `audit verify`, `db ...`)
works on the same database whichever back end it is. Its text is the file or the URL without
the password, for messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from core.config import AppConfig, database_path
from core.ports import Clock
from core.redact import register_secret
from core.secrets import database_password
from core.storage.audit_tools import has_audit_log, open_audit_reader
from core.storage.database import Database
from core.storage.errors import StorageError
from core.storage.link import Link
from core.storage.pg_lock import PostgresEngineLock
from core.storage.postgres import is_postgres_url, postgres_link, public_url
from core.storage.sqlite import sqlite_link


@dataclass(frozen=True)
class StorageTarget:
    path: Path | None = None
    url: str | None = None
    password: str | None = field(default=None, repr=False)
    synchronous: str = "FULL"

    @classmethod
    def of(cls, config: AppConfig, home: Path) -> StorageTarget:
        """The database ``config`` names for ``home`` (its password from the environment or the
        secrets file)."""
        storage = config.storage
        if storage.url is not None:
            return cls(url=storage.url, password=database_password(config.secrets_file),
                       synchronous=storage.synchronous)
        return cls(path=database_path(config, home), synchronous=storage.synchronous)

    @classmethod
    def parse(cls, text: str, password: str | None = None) -> StorageTarget:
        """``sqlite:PATH`` (or a plain path), or ``postgresql://user@host/database``; a password
        typed into the URL is used instead of ``password`` (and masked wherever it is shown)."""
        if is_postgres_url(text):
            typed = urlsplit(text).password
            register_secret(typed)
            return cls(url=text, password=None if typed else password)
        if text.startswith("sqlite:"):
            text = text.removeprefix("sqlite:").removeprefix("//")
        if not text:
            raise StorageError("give a database as sqlite:PATH or postgresql://user@host/database")
        return cls(path=Path(text).expanduser())

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return public_url(self.url) if self.url is not None else str(self.path)

    def exists(self) -> bool:
        """Whether there can be history to read: a SQLite file that is there, or a server."""
        return self.url is not None or (self.path is not None and self.path.exists())

    async def open(self, *, clock: Clock | None = None, anchor: Path | None = None, create: bool = False) -> Database:
        """The repository, checked and migrated (``Database.open`` / ``Database.connect``).
        ``create``: make the SQLite file's directory first (a command writing a home that has
        never run)."""
        if self.url is not None:
            return await Database.connect(self.url, self.password, self.synchronous, clock, anchor)
        assert self.path is not None
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        return await Database.open(self.path, self.synchronous, clock, anchor)

    def lock(self) -> Path | PostgresEngineLock:
        """What ``core.home_lock.lock_engine`` locks for this database: the SQLite file (a lock
        file beside it), or the PostgreSQL database (an advisory lock on the server)."""
        if self.url is not None:
            return PostgresEngineLock(self.url, self.password, str(self))
        assert self.path is not None
        return self.path

    async def link(self, *, write: bool = False) -> Link:
        """A plain connection, without the repository's checks and migrations (``db status``,
        ``db migrate``, ``db copy``); a SQLite file is opened read-only unless ``write``."""
        if self.url is not None:
            return await postgres_link(self.url, self.password, self.synchronous, "writer" if write else "reader")
        assert self.path is not None
        if not write and not self.path.is_file():
            raise StorageError(f"{self.path}: no such database file")
        return await sqlite_link(self.path, self.synchronous, readonly=not write)

    async def reader(self) -> Link:
        """A read-only look at an existing database with an audit log: no migration, no change."""
        if self.url is None:
            assert self.path is not None
            return await open_audit_reader(self.path)
        link = await self.link()
        if not await link.run(has_audit_log):
            await link.close()
            raise StorageError(f"the database {self} has no audit log: is it an OpenTrade database?")
        return link
