"""How the gateway is set up and what it refuses before serving: the config section, live
venues that need their name given, a venue or storage failure answered as 503 (never a 500),
one engine per home."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cli.live import live_problem
from cli.main import main
from core.config import AppConfig, CcxtVenueConfig, ConfigError, GatewayConfig, PaperVenueConfig, parse_config
from core.engine import TradingEngine
from core.home_lock import lock_engine
from core.ports import VenueError
from core.storage.errors import StorageError
from gateway.errors import error_middleware
from gateway.server import Gateway, GatewayError, client_host, is_loopback


def test_the_gateway_section_checks_its_values() -> None:
    assert parse_config("gateway: {port: 9000}\n").gateway == GatewayConfig(port=9000)
    with pytest.raises(ConfigError) as problem:
        parse_config("gateway:\n  tls_cert: /etc/x.crt\n")
    assert problem.value.problems == ["<config>:2: gateway: value error, give both tls_cert and tls_key, or neither"]
    with pytest.raises(ConfigError):
        parse_config("gateway: {port: 70000}\n")


def test_loopback_and_where_local_clients_connect() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.3.2.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "example.org"))
    assert [client_host(h) for h in ("0.0.0.0", "::", "::1", "10.0.0.2")] == ["127.0.0.1", "[::1]", "[::1]", "10.0.0.2"]


def test_a_live_venue_needs_credentials_and_its_name_given(monkeypatch: pytest.MonkeyPatch) -> None:
    config = AppConfig(venues={"paper": PaperVenueConfig(), "binance": CcxtVenueConfig(exchange="binance", mode="live")},
                       strategies={})
    assert live_problem(config, ["binance"], None) == (
        "cannot trade live:\n  venue 'binance' trades live but has no API key and secret: "
        "set OPENTRADE_BINANCE_API_KEY and OPENTRADE_BINANCE_SECRET (and OPENTRADE_BINANCE_PASSWORD where the "
        "exchange uses one), or add them to the 0600 secrets file")
    monkeypatch.setenv("OPENTRADE_BINANCE_API_KEY", "k")
    monkeypatch.setenv("OPENTRADE_BINANCE_SECRET", "s")
    assert live_problem(config, [], None) == (
        "venue binance trades real money: start with --confirm-live binance to confirm, as the app asks its name to be typed")
    assert live_problem(config, ["binance"], None) is None
    assert live_problem(config, [], "paper") is None, "only the venue that runs"
    assert live_problem(config, ["binanse"], None) == (
        "--confirm-live binanse: there is no live venue of that name (live venues: binance)")


async def test_an_exposed_address_without_tls_is_refused_before_serving(engine: TradingEngine, isolated_home: Path) -> None:
    with pytest.raises(GatewayError, match="listening on 0.0.0.0 needs TLS"):
        await Gateway(engine, isolated_home, GatewayConfig(host="0.0.0.0", port=0)).start()
    assert not (isolated_home / "gateway.json").exists()
    broken = GatewayConfig(port=0, tls_cert=isolated_home / "none.crt", tls_key=isolated_home / "none.key")
    with pytest.raises(GatewayError, match="gateway.tls_cert/tls_key: cannot load"):
        Gateway(engine, isolated_home, broken).check()


async def test_venue_and_storage_failures_are_503_with_their_reason() -> None:
    async def venue_down(request: web.Request) -> web.Response:
        raise VenueError("binance: connection refused")

    async def storage_gone(request: web.Request) -> web.Response:
        raise StorageError("the database is closed")

    app = web.Application(middlewares=[error_middleware(1024)])
    app.router.add_get("/venue", venue_down)
    app.router.add_get("/storage", storage_gone)
    async with TestClient(TestServer(app)) as client:
        for path, reason in (("/venue", "venue error: binance: connection refused"), ("/storage", "the database is closed")):
            response = await client.get(path)
            assert (response.status, await response.json()) == (503, {"error": "unavailable", "reason": reason})


def test_a_gateway_is_refused_while_another_engine_holds_the_home(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("agents: {enabled: false}\nstrategies: {}\ngateway: {port: 0}\n")
    with lock_engine(isolated_home, isolated_home / "opentrade.sqlite", "opentrade run --headless"):
        assert main(["--config", str(config), "--home", str(isolated_home), "gateway"]) == 3
    assert "opentrade run --headless" in capsys.readouterr().err
    assert not (isolated_home / "gateway.json").exists()
