"""What only the PostgreSQL back end has: month partitions, a fill id unique across them,
synchronous_commit, the password from the environment or the secrets file, and the advisory
lock that keeps a second engine off the database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from cli.main import main
from core.config import AppConfig, StorageConfig, parse_config
from core.home_lock import EngineLocked
from core.models import Candle
from core.storage import Database, StorageError
from core.storage.audit import AuditChain
from core.storage.ops import save_candles_op
from core.storage.pg_lock import PostgresEngineLock
from core.storage.target import StorageTarget
from core.storage.writer import GroupCommitWriter
from tests.backends import PostgresStore
from tests.postgres_server import PASSWORD
from tests.storage.conftest import make_fill
from tests.storage.test_group_commit import _failing_op

DAY_MS = 86_400_000
JAN = int(datetime(2024, 1, 31, 23, tzinfo=UTC).timestamp() * 1000)
ROOT = Path(__file__).resolve().parents[2]


def _partitions(store: PostgresStore, table: str) -> list[str]:
    return [row[0] for row in store.rows(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(?) ORDER BY 1", (table,)
    )]


@pytest.fixture
async def pg(postgres_url: str) -> PostgresStore:
    return PostgresStore(postgres_url)


async def test_candles_and_fills_go_to_the_partition_of_their_month(pg: PostgresStore) -> None:
    db = await pg.open()
    hours = [Candle(ts=JAN + 3_600_000 * i, open=1, high=2, low=0.5, close=1.5, volume=i) for i in range(3)]
    await db.save_candles("paper", "BTC/USDT", "1h", hours)  # 23:00 on 31 January, then February
    await db.record_fill(make_fill(1, ts=JAN))
    await db.record_fill(make_fill(2, ts=JAN + 40 * DAY_MS))
    assert _partitions(pg, "candles") == ["candles_2024_01", "candles_2024_02"]
    assert _partitions(pg, "fills") == ["fills_2024_01", "fills_2024_03"]
    assert pg.rows("SELECT COUNT(*) FROM ONLY candles_2024_02") == [(2,)]
    assert await db.load_candles("paper", "BTC/USDT", "1h") == hours
    assert [f.fill_id for f in await db.load_fills()] == ["fill-0001", "fill-0002"]
    await db.close()


async def test_a_fill_id_is_stored_once_whatever_its_month(pg: PostgresStore) -> None:
    """A partitioned table's unique keys include its partition key: the id alone is kept
    unique through fill_ids, or the same fill reported with another time would count twice."""
    db = await pg.open()
    fill = make_fill(ts=JAN)
    assert await db.record_fill(fill) is True
    assert await db.record_fill(fill.model_copy(update={"ts": JAN + 60 * DAY_MS})) is False
    assert await db.load_fills() == [fill]
    await db.close()


async def test_a_partition_made_in_a_rolled_back_batch_is_made_again(pg: PostgresStore) -> None:
    """The batch fails as a whole first (its new partition rolled back with it), then runs one
    write at a time: the candles' write must create the partition again."""
    await (await pg.open()).close()
    link = await pg.link()
    writer = GroupCommitWriter(link, AuditChain())
    candle = Candle(ts=JAN, open=1, high=1, low=1, close=1, volume=1)
    saved = writer.queue(partial(save_candles_op, [("paper", "BTC/USDT", "1h", *candle.model_dump().values())]),
                         lazy=True)
    failed = writer.queue(_failing_op)
    results = await asyncio.gather(saved, failed, return_exceptions=True)
    await writer.close()
    await link.close()
    assert results[0] == 1 and isinstance(results[1], StorageError)
    db = await pg.open()
    assert await db.load_candles("paper", "BTC/USDT", "1h") == [candle]
    await db.close()


async def test_commits_wait_for_the_wal_flush_unless_normal_is_chosen(pg: PostgresStore) -> None:
    async def setting(synchronous: str) -> str:
        target = StorageTarget(url=pg.url, password=PASSWORD, synchronous=synchronous)
        link = await target.link(write=True)
        try:
            return str(await link.run(lambda conn: conn.execute("SHOW synchronous_commit").fetchone()[0]))
        finally:
            await link.close()

    pg.rows("ALTER DATABASE " + pg.url.rsplit("/", 1)[1] + " SET synchronous_commit = off")
    assert await setting("FULL") == "on"
    assert await setting("NORMAL") == "off"


def _config(url: str, secrets: Path | None = None) -> AppConfig:
    return AppConfig(storage=StorageConfig(url=url), secrets_file=secrets)


async def test_the_password_comes_from_the_environment_or_the_secrets_file(
    pg: PostgresStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    with pytest.raises(StorageError, match="password authentication failed|no password supplied"):
        await StorageTarget.of(_config(pg.url), home).open()
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"database: {{password: {PASSWORD}}}\n")
    secrets.chmod(0o600)
    await (await StorageTarget.of(_config(pg.url, secrets), home).open()).close()
    monkeypatch.setenv("OPENTRADE_DB_PASSWORD", "not-the-password")
    with pytest.raises(StorageError, match="password authentication failed") as refused:
        await StorageTarget.of(_config(pg.url, secrets), home).open()
    assert "not-the-password" not in str(refused.value)
    monkeypatch.setenv("OPENTRADE_DB_PASSWORD", PASSWORD)
    await (await StorageTarget.of(_config(pg.url), home).open()).close()


@pytest.mark.parametrize(("url", "problem"), [
    ("postgresql://trader:hunter22@db.example/opentrade", "must not hold the password: set OPENTRADE_DB_PASSWORD"),
    ("mysql://trader@db.example/opentrade", "must look like postgresql://user@host/database"),
    ("postgresql://trader@db.example:port/opentrade", "not a valid URL"),
])
def test_a_storage_url_that_cannot_be_used_is_refused_with_the_reason(url: str, problem: str) -> None:
    from core.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        parse_config(f"storage:\n  url: {url}\n", "config.yaml")
    assert problem in " ".join(refused.value.problems)
    assert "hunter22" not in " ".join(refused.value.problems)
    with pytest.raises(ConfigError, match="not both"):
        parse_config("storage:\n  url: postgresql://t@h/d\n  path: /tmp/x.sqlite\n", "config.yaml")


async def test_a_server_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot connect to the database postgresql://trader@127.0.0.1:9/x"):
        await Database.connect("postgresql://trader@127.0.0.1:9/x")


def test_one_engine_per_database_naming_the_holder(pg: PostgresStore, postgres_server: object) -> None:
    # longer than the 63 bytes an application name keeps, and with a password typed into a URL
    command = "opentrade --home /srv/a db copy --from sqlite:/srv/a/opentrade.sqlite --to postgresql://ot:hunter22@db/ot"
    first = PostgresEngineLock(pg.url, PASSWORD, pg.url).take(command)
    try:
        with pytest.raises(EngineLocked) as refused:
            PostgresEngineLock(pg.url, PASSWORD, pg.url).take("opentrade --home /srv/b run --headless")
        message = str(refused.value)
        shown = command.replace("hunter22", "***")
        assert f"the database {pg.url} is held by another OpenTrade process (PID {os.getpid()}: {shown})" in message
        other = PostgresEngineLock(pg.url.rsplit("/", 1)[0] + "/opentrade_template", PASSWORD, "other")
        other.take("opentrade run").release()  # another database: its own lock
    finally:
        first.release()
    PostgresEngineLock(pg.url, PASSWORD, pg.url).take("opentrade run").release()


_HOLDER = """
import sys, time
from core.storage.pg_lock import PostgresEngineLock
held = PostgresEngineLock(sys.argv[1], sys.argv[2], "db").take("opentrade run --headless")
print("locked", flush=True)
time.sleep(120)
"""


def test_a_sigkilled_holder_leaves_the_database_free(pg: PostgresStore) -> None:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, pg.url, PASSWORD], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(EngineLocked, match=f"PID {holder.pid}: opentrade run --headless"):
            PostgresEngineLock(pg.url, PASSWORD, pg.url).take("opentrade run")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    for _ in range(100):  # bounded: the server notices the closed connection at once, or nearly
        try:
            PostgresEngineLock(pg.url, PASSWORD, pg.url).take("opentrade run").release()
            return
        except EngineLocked:
            subprocess.run(["sleep", "0.05"])
    pytest.fail("the lock of a SIGKILLed holder was not released")


def test_a_second_engine_on_the_database_is_refused_from_another_home(
    pg: PostgresStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: {pg.url}\nagents: {{enabled: false}}\n")
    monkeypatch.setenv("OPENTRADE_DB_PASSWORD", PASSWORD)
    held = PostgresEngineLock(pg.url, PASSWORD, pg.url).take("opentrade --home /srv/a run --headless")
    try:
        code = main(["--config", str(config), "--home", str(tmp_path / "b"), "run", "--headless", "--duration", "1"])
    finally:
        held.release()
    err = capsys.readouterr().err
    assert code == 3
    assert f"the database {pg.url} is held by another OpenTrade process (PID {os.getpid()}: " \
        "opentrade --home /srv/a run --headless)" in err
    assert "Traceback" not in err
