"""Fixtures for the ccxt venue tests: a fake exchange server and venues pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.clock import SimClock
from core.config import AppConfig, CcxtVenueConfig, PerpVenueConfig
from core.secrets import Credentials, load_credentials
from exchanges.ccxt import CcxtVenue
from exchanges.perps.venue import PerpetualVenue
from runtime.venues import build_venue
from tests.ccxt.server import FakeExchange

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
API_PASSWORD = "correct-horse-battery"
# Hyperliquid signs with a wallet's key; the fake does not check signatures, ccxt still makes them.
WALLET = "0x8c967e73e7b15087c42a10d344cff4c96d877f1d"
WALLET_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


class AutoClock(SimClock):
    """A simulated clock whose sleeps pass at once: backoffs and poll intervals cost no real
    time, yet every wait is visible as simulated time (the server stamps requests with it).
    The millisecond of real time per sleep only keeps idle poll loops from spinning a core."""

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0, int(seconds * 1000)))
        await asyncio.sleep(0.001)


@pytest.fixture
def clock() -> AutoClock:
    return AutoClock(start_ms=1_704_067_200_000)


@pytest.fixture
async def server(clock: SimClock) -> AsyncIterator[FakeExchange]:
    fake = FakeExchange(clock.now_ms)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Credentials]:
    def make(venue: str) -> Credentials:
        prefix = "OPENTRADE_" + venue.upper() + "_"
        monkeypatch.setenv(prefix + "API_KEY", API_KEY)
        monkeypatch.setenv(prefix + "SECRET", API_SECRET)
        monkeypatch.setenv(prefix + "PASSWORD", API_PASSWORD)
        return load_credentials(venue)

    return make


@pytest.fixture
async def make_venue(
    server: FakeExchange, clock: SimClock, tmp_path: Path, credentials: Callable[[str], Credentials]
) -> AsyncIterator[Callable[..., CcxtVenue]]:
    made: list[CcxtVenue] = []

    def make(exchange: str, mode: str = "live", markets: list[str] | None = None, **overrides: Any) -> CcxtVenue:
        config = CcxtVenueConfig(
            exchange=exchange,
            mode=mode,  # type: ignore[arg-type]
            markets=markets or ["BTC/USDT"],
            api_urls={"*": server.url, **overrides.pop("api_urls", {})},
            timeout_ms=overrides.pop("timeout_ms", 300),
            options={"rateLimit": 1, **overrides.pop("options", {})},
            **overrides,
        )
        creds = credentials(exchange) if mode == "live" else None
        venue = CcxtVenue(exchange, config, clock, tmp_path / "cache", creds, live_confirmed=mode == "live")
        made.append(venue)
        return venue

    yield make
    for venue in made:
        await venue.stop()


@pytest.fixture
async def make_perp(
    server: FakeExchange, clock: SimClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., PerpetualVenue]]:
    """A dedicated perpetuals venue (``hyperliquid`` or ``binanceusdm``) on the fake server,
    built by its plugin's factory as the app builds it; live mode has credentials the
    exchange's signing accepts (Hyperliquid's: a wallet address and its private key)."""
    made: list[PerpetualVenue] = []

    def make(kind: str, mode: str = "live", **settings: Any) -> PerpetualVenue:
        if mode == "live":
            key, secret = (WALLET, WALLET_KEY) if kind == "hyperliquid" else (API_KEY, API_SECRET)
            monkeypatch.setenv(f"OPENTRADE_{kind.upper()}_API_KEY", key)
            monkeypatch.setenv(f"OPENTRADE_{kind.upper()}_SECRET", secret)
        venue_settings = PerpVenueConfig(type=kind, mode=mode, api_urls={"*": server.url}, timeout_ms=300,  # type: ignore[arg-type]
                                         options={"rateLimit": 1}, **settings)
        config = AppConfig(venues={kind: venue_settings})
        venue = build_venue(kind, venue_settings, config, tmp_path, clock)
        assert isinstance(venue, PerpetualVenue)
        venue.live_confirmed = mode == "live"
        made.append(venue)
        return venue

    yield make
    for venue in made:
        await venue.stop()
