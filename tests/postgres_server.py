"""A throwaway PostgreSQL server for the tests and the storage benchmark.

``initdb`` in a temporary directory, then ``pg_ctl start`` on a free port of 127.0.0.1 with the
unix socket in that directory; ``stop`` ends it (immediate mode: nothing in it is kept) and
removes the directory. Debian's initdb refuses to run as root, so as root the server runs as
the ``postgres`` user the package creates. Connections over TCP need the password (SCRAM), as
a real server would ask for one; connections over the socket (the helper's own) are trusted.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "opentrade"
PASSWORD = "throwaway-test-password"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "checkpoint_timeout": "30min",
    "max_wal_size": "1GB",
}
# For the tests: what they check survives a client killed (SIGKILL), never the machine, so the
# server need not wait for the disk; the client still asks for synchronous_commit as always.
# The benchmark's server keeps fsync on.
NOT_DURABLE = {"fsync": "off", "full_page_writes": "off"}
MEMORY_DIR = "/dev/shm"
MEMORY_NEEDED = 4 << 30


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be started here."""


def _bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not versions:
        raise PostgresUnavailable("initdb was not found: install PostgreSQL (Debian: apt-get install postgresql)")
    return Path(versions[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _memory_dir() -> str | None:
    """/dev/shm when it has room for a test run's databases (a few hundred copies of the
    template): removing them from disk took 5 s for 80 of them at load 5, and over a minute at
    the end of the whole suite. A container's small /dev/shm keeps the default."""
    with contextlib.suppress(OSError):
        room = os.statvfs(MEMORY_DIR)
        if room.f_bavail * room.f_frsize >= MEMORY_NEEDED and os.access(MEMORY_DIR, os.W_OK):
            return MEMORY_DIR
    return None


class PostgresServer:
    def __init__(self, root: Path, port: int, bindir: Path, run_as: str | None, settings: dict[str, str]) -> None:
        self.root = root
        self.port = port
        self._bindir = bindir
        self._run_as = run_as
        self._settings = settings
        self._databases = 0

    @classmethod
    def start(cls, *, durable: bool = True) -> PostgresServer:
        """``durable=False`` for tests: no fsync (see NOT_DURABLE)."""
        bindir = _bindir()
        run_as = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="opentrade-pg-", dir=None if durable else _memory_dir()))
        settings = SERVER_SETTINGS if durable else {**SERVER_SETTINGS, **NOT_DURABLE}
        server = cls(root, _free_port(), bindir, run_as, settings)
        try:
            server._init()
        except BaseException:
            server.stop()
            raise
        return server

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self._run_as, "--", *args] if self._run_as else list(args)

    def _run(self, *args: str) -> None:
        done = subprocess.run(self._command(*args), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")

    def _init(self) -> None:
        if self._run_as:
            try:
                owner = pwd.getpwnam(self._run_as)
            except KeyError:
                raise PostgresUnavailable("running as root and there is no 'postgres' user to run the server") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        secret = self.root / "pwfile"
        secret.write_text(PASSWORD + "\n")
        if self._run_as:
            os.chown(secret, pwd.getpwnam(self._run_as).pw_uid, -1)
        self._run(
            str(self._bindir / "initdb"), "--pgdata", str(self.root / "data"), "--username", USER,
            "--pwfile", str(secret), "--auth-local", "trust", "--auth-host", "scram-sha-256",
            "--encoding", "UTF8", "--locale", "C.UTF-8", "--no-sync",
        )
        options = " ".join(f"-c {name}={value}" for name, value in {
            **self._settings, "port": str(self.port), "unix_socket_directories": str(self.root),
        }.items())
        self._run(str(self._bindir / "pg_ctl"), "--pgdata", str(self.root / "data"), "--log",
                  str(self.root / "server.log"), "--options", options, "--wait", "start")

    def url(self, database: str) -> str:
        """Over TCP, without the password (give it apart, as OpenTrade takes it)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run ``sql`` as the superuser over the socket (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(host=str(self.root), port=self.port, user=USER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self, template: str = "template0") -> str:
        """A fresh database copied from ``template``; its name."""
        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name

    def stop(self) -> None:
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(self._command(str(self._bindir / "pg_ctl"), "--pgdata", str(data), "--mode", "immediate",
                                         "--wait", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
