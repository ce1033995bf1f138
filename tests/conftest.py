"""Shared fixtures: every test gets its own OPENTRADE_HOME and a simulated clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.clock import SimClock

DATA = Path(__file__).parent / "data"


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
