"""`opentrade doctor --venue` checks for a ccxt venue, against the fake server."""

from __future__ import annotations

import time

from core.config import CcxtVenueConfig
from exchanges.ccxt.doctor import check_venue
from tests.ccxt.fakes import install_binance, install_bybit

RESTRICTIONS = {"ipRestrict": False, "createTime": 1698645219000, "enableReading": True, "enableWithdrawals": True,
                "enableInternalTransfer": False, "enableMargin": False, "enableFutures": False,
                "permitsUniversalTransfer": False, "enableVanillaOptions": False, "enableFixApiTrade": False,
                "enableFixReadOnly": False, "enableSpotAndMarginTrading": True, "enablePortfolioMarginTrading": False}


def config(server, exchange: str, mode: str = "live", markets: list[str] | None = None) -> CcxtVenueConfig:
    return CcxtVenueConfig(exchange=exchange, mode=mode, markets=markets or ["BTC/USDT"],  # type: ignore[arg-type]
                           api_urls={"*": server.url}, timeout_ms=300, options={"rateLimit": 1})


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


async def test_binance_key_that_can_withdraw_and_a_drifting_clock_are_flagged(server, credentials, tmp_path) -> None:
    install_binance(server)
    server.route("GET", "/api/v3/time", lambda _r: {"serverTime": time.time_ns() // 1_000_000 + 5000})
    server.route("GET", "/sapi/v1/account/apiRestrictions", lambda _r: RESTRICTIONS)
    checks = by_name(await check_venue("binance", config(server, "binance"), credentials("binance"), tmp_path))
    assert checks["connectivity"]["ok"] and checks["markets"]["ok"] and checks["credentials"]["ok"]
    assert not checks["clock skew"]["ok"] and "NTP" in checks["clock skew"]["fix"]
    assert checks["trading permission"]["ok"]
    assert not checks["withdrawals"]["ok"] and "disable withdrawals" in checks["withdrawals"]["fix"]
    assert (tmp_path / "markets-binance.json").exists()


async def test_missing_credentials_and_unknown_markets_say_what_to_do(server, tmp_path) -> None:
    install_bybit(server)
    server.route("GET", "/v5/market/time", lambda _r: {"retCode": 0, "retMsg": "OK", "result": {
        "timeSecond": str(time.time_ns() // 10**9), "timeNano": str(time.time_ns())}, "retExtInfo": {},
        "time": time.time_ns() // 1_000_000})
    checks = by_name(await check_venue("bybit", config(server, "bybit", markets=["BTC/USDT", "DOGE/EUR"]), None, tmp_path))
    assert checks["markets"] == {"name": "markets", "ok": False, "detail": "not on bybit: DOGE/EUR",
                                 "fix": "use unified symbols such as BTC/USDT (spot) or BTC/USDT:USDT (perpetual)"}
    assert checks["clock skew"]["ok"]
    assert not checks["credentials"]["ok"] and "OPENTRADE_BYBIT_API_KEY" in checks["credentials"]["fix"]


async def test_unreachable_exchange_stops_after_connectivity(tmp_path) -> None:
    unreachable = CcxtVenueConfig(exchange="okx", api_urls={"*": "http://127.0.0.1:9"}, timeout_ms=300)
    checks = await check_venue("okx", unreachable, None, tmp_path)
    assert [c["name"] for c in checks] == ["exchange", "connectivity"]
    assert not checks[1]["ok"] and "api_urls" in checks[1]["fix"]


async def test_unknown_exchange_is_named(tmp_path) -> None:
    [check] = await check_venue("x", CcxtVenueConfig(exchange="binanse"), None, tmp_path)
    assert not check["ok"] and "no exchange named 'binanse'" in check["detail"] and "binance" in check["detail"]
