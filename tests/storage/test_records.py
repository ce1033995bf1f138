"""Positions, balances, parameters, candles and state: exact round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import (
    Balance,
    Candle,
    FundingPayment,
    FundingRate,
    LevelPlacement,
    MarketStats,
    Position,
    PositionSide,
    ProtectiveLevels,
)
from core.storage import Database, StorageError
from tests.backends import Store
from tests.storage.conftest import T0


def _position(symbol: str, side: PositionSide = PositionSide.LONG, venue: str = "paper") -> Position:
    return Position(
        venue=venue, symbol=symbol, side=side, size=Decimal("0.500"), entry_price=Decimal("41999.99"), leverage=3,
        margin=Decimal("7000.00"), mark_price=Decimal("42100"), unrealized_pnl=Decimal("50.005"),
        realized_pnl=Decimal("-1.5"), liquidation_price=Decimal("28000.1"), created_ts=1, updated_ts=2,
    )


async def test_positions_are_replaced_per_venue(db: Database) -> None:
    btc_long, btc_short = _position("BTC/USDT:USDT"), _position("BTC/USDT:USDT", PositionSide.SHORT)
    other = _position("ETH/USDT", venue="binance")
    await db.save_positions("paper", [btc_long, btc_short], ts=10)
    await db.save_positions("binance", [other], ts=10)
    assert await db.load_positions("paper") == [btc_long, btc_short]
    await db.save_positions("paper", [btc_short], ts=11)
    assert await db.load_positions() == [other, btc_short]
    await db.save_positions("paper", [], ts=12)
    assert await db.load_positions("paper") == []


async def test_positions_of_another_venue_are_refused(db: Database) -> None:
    with pytest.raises(StorageError, match="'paper' was given positions of binance"):
        await db.save_positions("paper", [_position("ETH/USDT", venue="binance")], ts=1)


async def test_balance_snapshots_keep_history_and_return_the_latest(db: Database) -> None:
    assert await db.latest_balances("paper") == []
    first = [Balance(asset="USDT", free=Decimal("10000.00")), Balance(asset="BTC", free=Decimal("1"))]
    await db.snapshot_balances("paper", first, ts=1)
    await db.snapshot_balances("binance", [Balance(asset="ETH", free=Decimal("2"))], ts=2)
    assert await db.latest_balances("paper") == sorted(first, key=lambda b: b.asset)
    second = [Balance(asset="USDT", free=Decimal("9000.5"), used=Decimal("999.50"))]
    await db.snapshot_balances("paper", second, ts=3)
    assert await db.latest_balances("paper") == second
    assert await db.latest_balances("binance") == [Balance(asset="ETH", free=Decimal("2"))]


async def test_balance_snapshot_with_a_repeated_asset_is_refused(db: Database) -> None:
    with pytest.raises(StorageError, match="lists USDT more than once"):
        await db.snapshot_balances("paper", [Balance(asset="USDT"), Balance(asset="USDT")], ts=1)


async def test_strategy_versions_count_up_and_are_audited(db: Database) -> None:
    assert await db.save_strategy_version("grid", {"levels": 10, "step": Decimal("0.5")}, note="first", ts=5) == 1
    assert await db.save_strategy_version("grid", {"levels": 12, "step": Decimal("0.5")}, ts=6) == 2
    assert await db.save_strategy_version("trend", {"fast": 9}, ts=7) == 1
    versions = await db.strategy_versions("grid")
    assert versions == [
        {"name": "grid", "version": 1, "params": {"levels": 10, "step": "0.5"}, "note": "first", "ts": 5},
        {"name": "grid", "version": 2, "params": {"levels": 12, "step": "0.5"}, "note": "", "ts": 6},
    ]
    entries = await db.audit_entries(kind="strategy_version")
    assert [(e.payload["name"], e.payload["version"]) for e in entries] == [("grid", 1), ("grid", 2), ("trend", 1)]
    with pytest.raises(StorageError, match="needs the strategy's name"):
        await db.save_strategy_version("", {})


async def test_candles_upsert_by_timestamp_and_filter_by_range(db: Database) -> None:
    candles = [Candle(ts=60_000 * i, open=1.0 + i, high=2.5, low=0.1, close=1.1, volume=10.0 * i) for i in range(5)]
    assert await db.save_candles("paper", "BTC/USDT", "1m", candles) == 5
    assert await db.save_candles("paper", "BTC/USDT", "1m", []) == 0
    replaced = candles[4].model_copy(update={"close": 3.25})
    assert await db.save_candles("paper", "BTC/USDT", "1m", [replaced]) == 1
    await db.save_candles("paper", "BTC/USDT", "5m", candles[:1])
    assert await db.load_candles("paper", "BTC/USDT", "1m") == [*candles[:4], replaced]
    assert await db.load_candles("paper", "BTC/USDT", "1m", since_ms=60_000, until_ms=180_000) == candles[1:3]
    assert await db.load_candles("paper", "ETH/USDT", "1m") == []


async def test_candles_with_non_finite_values_are_refused(db: Database) -> None:
    bad = Candle(ts=60_000, open=1.0, high=float("nan"), low=0.5, close=1.0, volume=1.0)
    with pytest.raises(StorageError, match="BTC/USDT 1m candle at 60000 has a value that is not a finite number"):
        await db.save_candles("paper", "BTC/USDT", "1m", [bad])
    assert await db.load_candles("paper", "BTC/USDT", "1m") == []


async def test_state_keys(db: Database) -> None:
    assert await db.get_state("theme") is None
    await db.set_state("theme", "nord")
    await db.set_state("theme", "gruvbox")
    await db.set_state("last_screen", "trade")
    assert await db.get_state("theme") == "gruvbox"
    assert await db.get_state("last_screen") == "trade"


async def test_protective_levels_are_replaced_per_market_removed_and_audited(db: Database) -> None:
    levels = ProtectiveLevels(
        venue="bybit", symbol="BTC/USDT:USDT", side=PositionSide.LONG, opened_ts=T0, stop_loss=Decimal("40000.1"),
        stop_loss_source="manual", take_profit=Decimal("45000"), take_profit_source="auto",
        placement=LevelPlacement.EXCHANGE, stop_loss_order="ot-sl", take_profit_order="ot-tp", updated_ts=T0 + 1,
    )
    await db.save_protection("bybit", "BTC/USDT:USDT", levels, actor="user", ts=T0 + 1, payload={"reason": "set"})
    moved = levels.model_copy(update={"stop_loss": Decimal("41000"), "updated_ts": T0 + 2})
    await db.save_protection("bybit", "BTC/USDT:USDT", moved, actor="user", ts=T0 + 2, payload={"reason": "moved"})
    assert await db.load_protections() == [moved]
    await db.save_protection("bybit", "BTC/USDT:USDT", None, actor="engine", ts=T0 + 3, payload={"reason": "closed"})
    assert await db.load_protections() == []
    entries = await db.audit_entries(kind="protection", symbol="BTC/USDT:USDT")
    assert [(e.actor, e.payload["reason"], e.ts) for e in entries] == [
        ("user", "set", T0 + 1), ("user", "moved", T0 + 2), ("engine", "closed", T0 + 3)]
    with pytest.raises(StorageError, match="given as ETH/USDT on bybit"):
        await db.save_protection("bybit", "ETH/USDT", levels, actor="user", ts=T0, payload={})


async def test_funding_rates_and_market_stats_round_trip_by_market_and_time(db: Database) -> None:
    rates = [FundingRate(ts=8 * 3_600_000 * i, rate=0.0001 * (i - 1)) for i in range(4)]
    assert await db.save_funding_rates("bn", "BTC/USDT:USDT", [*rates, FundingRate(ts=10**12, rate=float("nan"))]) == 4
    assert await db.save_funding_rates("bn", "BTC/USDT:USDT", [rates[3].model_copy(update={"rate": -0.0005})]) == 1
    await db.save_funding_rates("bn", "ETH/USDT:USDT", rates[:1])
    assert await db.load_funding_rates("bn", "BTC/USDT:USDT") == [*rates[:3], FundingRate(ts=rates[3].ts, rate=-0.0005)]
    assert await db.load_funding_rates("bn", "BTC/USDT:USDT", since_ms=rates[1].ts, limit=1) == [
        FundingRate(ts=rates[3].ts, rate=-0.0005)]
    full = MarketStats(venue="bn", symbol="BTC/USDT:USDT", ts=T0, spread_bps=0.5, bid_depth=12.5, ask_depth=9.25,
                       funding_rate=0.0001, next_funding_ts=T0 + 3_600_000, open_interest=81234.5, long_short_ratio=1.8)
    bare = MarketStats(venue="bn", symbol="BTC/USDT:USDT", ts=T0 + 60_000, spread_bps=0.75)
    await db.save_market_stats(full)
    await db.save_market_stats(bare)
    assert await db.load_market_stats("bn", "BTC/USDT:USDT") == [full, bare]
    assert await db.load_market_stats("bn", "BTC/USDT:USDT", limit=1) == [bare]
    assert await db.load_market_stats("bn", "ETH/USDT:USDT") == []


async def test_funding_payments_are_recorded_once_audited_and_listed(db: Database, store: Store) -> None:
    paid = FundingPayment(venue="paper", symbol="BTC/USDT:USDT", ts=T0, amount=Decimal("-1.2600"), currency="USDT",
                          rate=Decimal("0.0001"), price=Decimal("42000.0"), side=PositionSide.LONG, size=Decimal("0.300"))
    received = FundingPayment(venue="bn", symbol="ETH/USDT:USDT", ts=T0 + 8 * 3_600_000, amount=Decimal("0.03125"),
                              currency="USDT")
    assert await db.record_funding(paid) and await db.record_funding(received)
    # read again after a restart, or from the venue's history: the same funding time is the same payment
    assert not await db.record_funding(paid.model_copy(update={"amount": Decimal("-9")}))
    assert await db.load_funding() == [paid, received]
    assert await db.load_funding(venue="bn") == [received]
    assert await db.load_funding(symbol="BTC/USDT:USDT", since_ms=T0, until_ms=T0 + 1) == [paid]
    assert await db.load_funding(limit=1) == [received]
    assert store.rows("SELECT amount, rate, side FROM funding_payments WHERE venue = 'paper'") == [
        ("-1.2600", "0.0001", "long")]
    audited = await db.audit_entries(kind="funding")
    assert [entry.payload["amount"] for entry in audited] == ["-1.2600", "0.03125"]
