"""The daily review: the day's performance, keep-or-replace, versions, the schedule."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.backtest.data import load_bars
from core.backtest.evolve import ReviewSettings, daily_review, day_performance, next_run_ms, run_daily
from core.backtest.optimizer import SearchSettings
from core.backtest.result import BacktestSettings
from core.clock import SimClock
from core.models import Fill, Side
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA

DAY = 86_400_000


class Versions:
    def __init__(self) -> None:
        self.saved: list[tuple[str, dict, str, int]] = []

    async def save_strategy_version(self, name: str, params: dict, note: str = "", ts: int = 0) -> int:
        self.saved.append((name, params, note, ts))
        return len(self.saved)

    async def strategy_versions(self, name: str) -> list[dict]:
        return []


def fill(k: int, side: Side, price: int, size: str = "1") -> Fill:
    return Fill(fill_id=f"f{k}", client_order_id=f"c{k}", venue="paper", symbol="BTC/USDT", side=side,
                price=Decimal(price), size=Decimal(size), fee=Decimal("0.1"), ts=k, strategy_id="s")


def test_day_performance_from_fills() -> None:
    perf = day_performance([fill(1, Side.BUY, 100), fill(2, Side.SELL, 110), fill(3, Side.SELL, 105), fill(4, Side.BUY, 108)])
    assert perf.fills == 4 and perf.closing_fills == 2 and perf.winning_fills == 1 and perf.win_rate == 0.5
    assert perf.realized_pnl == Decimal(10 - 3) and perf.fees == Decimal("0.4") and perf.volume == Decimal(423)
    tenths = day_performance([fill(1, Side.BUY, 100), fill(2, Side.SELL, 110)], lambda venue, symbol: Decimal("0.1"))
    assert tenths.realized_pnl == Decimal(1), "contracts of 0.1 realize a tenth (they counted as whole coins)"


@pytest.fixture(scope="module")
def bars():
    return load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(0, 3000)


REVIEW = ReviewSettings(search=SearchSettings(population=10, generations=3, seed=5, objective="total_return"))


async def test_a_better_variant_is_adopted_and_saved(bars) -> None:
    versions = Versions()
    current = {"fast": 3, "slow": 4}  # churns: any reasonable variant beats it after fees
    result = await daily_review("btc_sma", SmaCross, current, bars, fills=[fill(1, Side.BUY, 100)], versions=versions,
                                review=REVIEW, settings=BacktestSettings(fee=0.001), now_ms=5 * DAY)
    assert result.adopted and result.challenger.score > result.current.score
    assert result.params == result.challenger.params != SmaCross.validate_params(current)
    ((name, params, note, ts),) = versions.saved
    assert (name, params, ts, result.version) == ("btc_sma", result.params, 5 * DAY, 1)
    assert '"review": "daily"' in note and result.summary()["live"]["fills"] == 1


async def test_the_current_parameters_stay_unless_clearly_beaten(bars) -> None:
    versions = Versions()
    review = ReviewSettings(search=REVIEW.search, min_improvement=1e9)
    result = await daily_review("btc_sma", SmaCross, {"fast": 3, "slow": 4}, bars, versions=versions, review=review)
    assert not result.adopted and result.params == SmaCross.validate_params({"fast": 3, "slow": 4})
    assert versions.saved == [] and result.version is None


async def test_too_little_history_is_refused(bars) -> None:
    with pytest.raises(ValueError, match="too few for a review"):
        await daily_review("s", SmaCross, {}, bars.slice(0, 40))


def test_next_run_time() -> None:
    assert next_run_ms(0, 2) == 2 * 3_600_000
    assert next_run_ms(2 * 3_600_000, 2) == DAY + 2 * 3_600_000


async def test_the_schedule_runs_daily_and_survives_a_failure() -> None:
    clock = SimClock(start_ms=10 * DAY)
    runs: list[int] = []

    async def job() -> None:
        runs.append(clock.now_ms())
        if len(runs) == 1:
            raise RuntimeError("exchange down")

    task = asyncio.create_task(run_daily(clock, 1, job))
    for hours in (1, 24, 24):
        await asyncio.sleep(0)
        clock.advance(hours * 3_600_000)
        for _ in range(5):
            await asyncio.sleep(0)
    task.cancel()
    assert runs == [10 * DAY + 3_600_000, 11 * DAY + 3_600_000, 12 * DAY + 3_600_000]


async def test_the_in_app_review_applies_winners_through_the_engine(bars, tmp_path, clock: SimClock) -> None:
    from core.backtest.evolve import review_running
    from core.config import StrategyConfig
    from core.storage.database import Database
    from core.strategies import registry
    from core.strategies.runner import StrategyEngine
    from tests.strategies.helpers import FakeHost

    clock.set(int(bars.ts[-1]) + 3_600_000)
    async with await Database.open(tmp_path / "db.sqlite") as db:
        await db.save_candles("paper", "BTC/USDT", "1h", [bars.candle(i) for i in range(len(bars))])
        engine = StrategyEngine(FakeHost(clock), versions=db)
        registry.load(engine, {
            "churn": StrategyConfig(kind="sma_cross", venue="paper", timeframe="1h", fast=3, slow=4),
            "ai": StrategyConfig(kind="ai_trend_following", venue="paper", timeframe="1h"),
            "pair": StrategyConfig(kind="pair_arbitrage", venue="paper", symbols=["ETH/USDT", "BTC/USDT"]),
            "eth": StrategyConfig(kind="mean_reversion", venue="paper", symbols=["ETH/USDT"], timeframe="1h"),
        })
        outcomes = await review_running(engine, db, clock.now_ms(), lookback_ms=400 * DAY, review=REVIEW)
        churn = outcomes["churn"]
        assert not isinstance(churn, str) and churn.adopted
        assert engine.context("churn").strategy.params == churn.params
        (version,) = await db.strategy_versions("churn")
        assert version["params"] == churn.params and '"review": "daily"' in version["note"]
        assert all(isinstance(outcomes[k], str) and outcomes[k].startswith("skipped: ") for k in ("ai", "pair", "eth"))
        assert "too few for a review" in outcomes["eth"]
