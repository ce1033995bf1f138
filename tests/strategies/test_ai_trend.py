"""Trend following on agent signals: thresholds, sizing, stop-loss and take-profit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.models import Direction, Signal
from core.strategies.ai_trend import AiTrendFollowing
from tests.strategies.helpers import H, bars_from_closes, run_strategy


def signal(ts: int, direction: Direction, confidence: float = 0.9, strength: float = 0.8, **extra: float) -> Signal:
    return Signal(instrument_id="BTC/USDT", direction=direction, strength=strength, confidence=confidence,
                  generated_time=ts, source="ai_prediction", **extra)


async def test_confident_buy_is_sized_and_exits_at_take_profit() -> None:
    closes = [100, 100, 100, 101, 103, 105, 107, 108, 108]
    strategy = AiTrendFollowing({"position_size_pct": 0.1, "take_profit_pct": 0.06})
    tester = await run_strategy(strategy, bars_from_closes(closes), signals=[signal(2 * H, Direction.BUY)])
    (trade,) = tester.trades
    assert trade.side == "long" and trade.entry_bar == 2 and trade.entry_price == 100.0
    assert trade.size * trade.entry_price == pytest.approx(10_000 * 0.1 * 0.8 / 1.001, rel=1e-3), "scaled by strength 0.8"
    assert trade.exit_price >= 106.0 and trade.exit_bar == 6
    assert strategy.ctx.position("BTC/USDT") == 0


async def test_unsure_signals_and_holds_are_ignored() -> None:
    strategy = AiTrendFollowing({"confidence_threshold": 0.7})
    tester = await run_strategy(strategy, bars_from_closes([100] * 6), signals=[
        signal(H, Direction.BUY, confidence=0.69), signal(2 * H, Direction.HOLD, confidence=1.0),
    ])
    assert tester.trades == [] and strategy.skipped == 1 and strategy.ctx.position("BTC/USDT") == 0


async def test_sell_with_the_signals_own_stop_loss() -> None:
    closes = [100, 100, 99, 100, 101, 102, 103, 104]
    strategy = AiTrendFollowing({"stop_loss_pct": 0.2})
    tester = await run_strategy(strategy, bars_from_closes(closes), signals=[signal(H, Direction.SELL, stop_loss=101.5)])
    (trade,) = tester.trades
    assert trade.side == "short" and trade.pnl < 0
    assert 101.5 <= trade.exit_price <= 102.5  # closed at the first replayed price at or above its stop


async def test_long_only_sell_closes_the_long() -> None:
    closes = [100, 100, 101, 102, 101, 100, 100]
    strategy = AiTrendFollowing({"allow_short": False, "take_profit_pct": 1.0, "stop_loss_pct": 0.5})
    tester = await run_strategy(strategy, bars_from_closes(closes), signals=[
        signal(H, Direction.BUY), signal(3 * H + 1, Direction.SELL),
    ])
    (trade,) = tester.trades  # the SELL arrives during bar 3 and closes at its next replayed price
    assert trade.side == "long" and trade.exit_bar == 3 and trade.exit_ts == 3 * H + H // 3
    assert strategy.ctx.position("BTC/USDT") == Decimal(0)


@pytest.mark.parametrize(("strength", "size_fraction", "notional"), [
    (0.5, None, 10_000 * 0.2 * 0.5),  # the strength scales position_size_pct
    (1.0, None, 10_000 * 0.2),
    (1.0, 0.03, 10_000 * 0.03),  # the risk agent's size caps it (Kelly, volatility, correlation)
    (0.5, 0.5, 10_000 * 0.2 * 0.5),  # a larger allowance does not raise it
])
async def test_the_size_follows_the_signals_strength_and_the_risk_agents_size(
    strength: float, size_fraction: float | None, notional: float, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = AiTrendFollowing({"position_size_pct": 0.2, "take_profit_pct": 1.0})
    extra = {} if size_fraction is None else {"size_fraction": size_fraction}
    caplog.set_level("INFO", logger="core.strategies.ai_trend")
    tester = await run_strategy(strategy, bars_from_closes([100] * 6),
                                signals=[signal(H, Direction.BUY, strength=strength, **extra)])
    position = strategy.ctx.position("BTC/USDT")
    assert float(position) * 100 == pytest.approx(notional / 1.001, rel=1e-3)
    assert tester.trades == [] or tester.trades[0].side == "long"
    (line,) = [r.getMessage() for r in caplog.records if "sized" in r.getMessage()]
    assert f"20.0% x strength {strength:.2f}" in line
    if size_fraction == 0.03:
        assert "capped at 3.00% by the risk agent's 3.00% of the account" in line
    assert strategy.state()["plans"]["BTC/USDT"]["size"] == pytest.approx(notional / 10_000)


async def test_a_strategy_with_part_of_the_capital_reads_the_risk_size_as_a_share_of_the_account() -> None:
    """The risk agent sizes against the account; a strategy with 10% of it may hold 10 times that
    share of its own equity (but never more than all of it)."""
    tester_strategy = AiTrendFollowing({"position_size_pct": 1.0})
    bars = bars_from_closes([100] * 4)
    tester = Backtester([bars], BacktestSettings(cash=10_000.0, fee=0.001))
    tester.strategies.add(tester_strategy, venue="backtest", symbols=["BTC/USDT"], timeframe="1h", allocation_pct=0.1)
    assert tester_strategy.size_for(signal(0, Direction.BUY, strength=1.0, size_fraction=0.02))[0] == pytest.approx(0.2)
    assert tester_strategy.size_for(signal(0, Direction.BUY, strength=1.0, size_fraction=0.5))[0] == 1.0
