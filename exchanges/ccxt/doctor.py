"""`opentrade doctor --venue NAME` for a ccxt venue: can we reach the exchange, is the clock
close enough for signed requests, do the credentials work, and is the key allowed to trade but
not to withdraw. Every check is plain data (name, ok, detail, fix) for the command to print."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.clock import WallClock
from core.config import CcxtVenueConfig
from core.redact import redact
from core.secrets import Credentials, how_to_set
from exchanges.ccxt import client
from exchanges.ccxt.errors import describe
from exchanges.ccxt.markets_cache import MarketsCache

MAX_SKEW_MS = 1000


def _check(name: str, ok: bool, detail: str, fix: str = "") -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": redact(detail), "fix": fix}


async def check_venue(
    name: str, config: CcxtVenueConfig, credentials: Credentials | None, cache_dir: Path
) -> list[dict[str, Any]]:
    live = config.mode == "live"
    try:
        exchange = client.build_exchange(config, credentials if live else None)
    except ValueError as exc:
        return [_check("exchange", False, str(exc), "fix 'exchange', 'sandbox' or 'api_urls' in the venue's config")]
    checks = [_check("exchange", True, f"{config.exchange} ({'testnet' if config.sandbox else 'production'}), {config.mode} mode")]
    try:
        checks.append(await _connectivity(exchange, config, cache_dir))
        if not checks[-1]["ok"]:
            return checks
        checks.append(_markets(exchange, config))
        checks.append(await _clock_skew(exchange))
        checks.extend(await _credentials(name, exchange, config, credentials))
    finally:
        await exchange.close()
    return checks


async def _connectivity(exchange: Any, config: CcxtVenueConfig, cache_dir: Path) -> dict[str, Any]:
    started = time.monotonic()
    try:
        await exchange.load_markets()
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return _check("connectivity", False, describe(exc),
                      "check the network or proxy; for a regional host or proxy set api_urls in the venue's config")
    elapsed = (time.monotonic() - started) * 1000
    cache = MarketsCache(cache_dir / f"markets-{config.exchange}{'-sandbox' if config.sandbox else ''}.json",
                         config.markets_cache_max_age, WallClock())
    cache.save(list(exchange.markets.values()), dict(exchange.currencies or {}))
    return _check("connectivity", True, f"{len(exchange.markets)} markets loaded in {elapsed:.0f} ms")


def _markets(exchange: Any, config: CcxtVenueConfig) -> dict[str, Any]:
    missing = [s for s in config.markets if s not in exchange.markets]
    if missing:
        return _check("markets", False, f"not on {config.exchange}: {', '.join(missing)}",
                      "use unified symbols such as BTC/USDT (spot) or BTC/USDT:USDT (perpetual)")
    return _check("markets", True, ", ".join(config.markets))


async def _clock_skew(exchange: Any) -> dict[str, Any]:
    if not exchange.has.get("fetchTime"):
        return _check("clock skew", True, f"{exchange.id} does not report its time; not checked")
    before = time.time_ns() // 1_000_000
    try:
        server = await exchange.fetch_time()
    except Exception as exc:  # noqa: BLE001
        return _check("clock skew", False, describe(exc), "retry; the exchange's time endpoint did not answer")
    after = time.time_ns() // 1_000_000
    skew = int(server) - (before + after) // 2
    ok = abs(skew) <= MAX_SKEW_MS
    return _check("clock skew", ok, f"local clock is {-skew:+d} ms from {exchange.id}",
                  "" if ok else "synchronise the system clock (NTP): signed requests are refused when it drifts")


async def _credentials(
    name: str, exchange: Any, config: CcxtVenueConfig, credentials: Credentials | None
) -> list[dict[str, Any]]:
    if config.mode != "live":
        return [_check("credentials", True, "not used in paper mode")]
    if credentials is None or not credentials.complete:
        return [_check("credentials", False, "live mode needs an API key and secret", how_to_set(name))]
    try:
        await exchange.fetch_balance()
    except Exception as exc:  # noqa: BLE001
        return [_check("credentials", False, describe(exc),
                       "check the key and secret, the passphrase, and the key's IP whitelist")]
    checks = [_check("credentials", True, f"authenticated ({credentials.source})")]
    checks.extend(await _permissions(exchange))
    return checks


async def _permissions(exchange: Any) -> list[dict[str, Any]]:
    reader = _PERMISSION_READERS.get(exchange.id)
    if reader is None:
        return [_check("permissions", True, f"{exchange.id}: permissions cannot be read through ccxt; "
                       "check on the exchange's API key page that withdrawals are off")]
    try:
        trade, withdraw = await reader(exchange)
    except Exception as exc:  # noqa: BLE001
        return [_check("permissions", False, describe(exc), "the key may lack the read permission")]
    return [
        _check("trading permission", trade, "the key may trade" if trade else "the key cannot trade",
               "" if trade else "enable trading for this key on the exchange's API key page"),
        _check("withdrawals", not withdraw, "withdrawals are enabled for this key" if withdraw else "withdrawals are off",
               "disable withdrawals for this key: a trading app never needs them" if withdraw else ""),
    ]


async def _binance(exchange: Any) -> tuple[bool, bool]:
    info = await exchange.sapiGetAccountApiRestrictions()
    trade = bool(info.get("enableSpotAndMarginTrading") or info.get("enableFutures"))
    return trade, bool(info.get("enableWithdrawals"))


async def _okx(exchange: Any) -> tuple[bool, bool]:
    info = (await exchange.privateGetAccountConfig())["data"][0]
    perms = str(info.get("perm", "")).split(",")
    return "trade" in perms, "withdraw" in perms


async def _bybit(exchange: Any) -> tuple[bool, bool]:
    info = (await exchange.privateGetV5UserQueryApi())["result"]
    perms = info.get("permissions") or {}
    trade = not int(info.get("readOnly", 1)) and bool(perms.get("Spot") or perms.get("ContractTrade"))
    return trade, "Withdraw" in (perms.get("Wallet") or [])


_PERMISSION_READERS = {"binance": _binance, "okx": _okx, "bybit": _bybit}
