"""Shared fixtures: every test gets its own OPENTRADE_HOME and a simulated clock; the storage
suites run on both back ends (``store``), PostgreSQL on a throwaway server started once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.clock import SimClock
from tests.backends import PostgresStore, SqliteStore, Store
from tests.postgres_server import PASSWORD, PostgresServer, PostgresUnavailable

DATA = Path(__file__).parent / "data"
# PostgreSQL tests fail when no server can be started: CI installs one (.ci/run). On a machine
# without PostgreSQL they may be skipped, but only when asked for, and never in CI.
POSTGRES_OPTIONAL = os.environ.get("OPENTRADE_TESTS_WITHOUT_POSTGRES") == "1" and os.environ.get("CI") != "true"
TEMPLATE = "opentrade_template"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("OPENTRADE_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    for name in list(__import__("os").environ):
        if name.startswith("OPENTRADE_") and name != "OPENTRADE_HOME":
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start_ms=1_704_067_200_000)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the whole run, with a migrated template that each test's database copies."""
    try:
        server = PostgresServer.start(durable=False)
    except PostgresUnavailable as exc:
        if POSTGRES_OPTIONAL:
            pytest.skip(f"PostgreSQL is not available: {exc}")
        pytest.fail(f"the PostgreSQL server for the tests could not be started: {exc} "
                    "(on a machine without PostgreSQL, OPENTRADE_TESTS_WITHOUT_POSTGRES=1 skips these tests)")
    try:
        from core.storage import Database

        server.admin(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
        asyncio.run(_close(Database.connect(server.url(TEMPLATE), PASSWORD)))
        yield server
    finally:
        server.stop()


async def _close(opening: object) -> None:
    db = await opening  # type: ignore[misc]
    await db.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, migrated PostgreSQL database for one test."""
    return postgres_server.url(postgres_server.new_database(TEMPLATE))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The storage back end a test runs on: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "opentrade.db")
    return PostgresStore(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """As ``store``, with a PostgreSQL database that no migration has touched yet."""
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "opentrade.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return PostgresStore(server.url(server.new_database()))
