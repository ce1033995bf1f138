"""The real `opentrade web` command as a process: started on a free port of 127.0.0.1, found by
the address it logs, stopped with SIGTERM as a service manager would; and the gateway its
sessions attach to."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from web.server import OPENTRADE

START_TIMEOUT_S = 60
SERVING = re.compile(r"serving the app on (\S+)")


@dataclass
class WebProcess:
    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)  # its standard error, as it comes

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@contextlib.contextmanager
def opentrade_web(home: Path, *args: str, env: dict[str, str] | None = None, config: Path | None = None) -> Iterator[WebProcess]:
    """`opentrade [--config CONFIG] --home HOME web --port 0 ARGS`, yielded once it listens."""
    command = [OPENTRADE, *(["--config", str(config)] if config else []),
               "--home", str(home), "web", "--port", "0", *args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, **(env or {})})
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if (match := SERVING.search(line)) and not url:
                url.append(match.group(1))
                found.set()
        found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not found.wait(START_TIMEOUT_S) or not url:
            raise AssertionError(f"opentrade web did not start; it said:\n{''.join(lines)}")
        web = WebProcess(process, url[0], lines)
        yield web
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(5)


@contextlib.contextmanager
def engine_for_the_sessions(home: Path, config: Path | None = None) -> Iterator[None]:
    """The gateway the sessions attach to."""
    gateway = subprocess.Popen([OPENTRADE, *(["--config", str(config)] if config else []), "--home", str(home),
                                "gateway", "--port", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (home / "gateway.json").exists():
            assert gateway.poll() is None and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
        yield
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
