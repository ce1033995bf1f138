"""On a spot market without margin a strategy goes flat where it would go short, and says so
once; on a margin venue or a perpetual it may short; backtests keep shorting everywhere."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.clock import SimClock
from core.models import Candle, Direction, Fill, OrderRequest, OrderType, Side, Signal, Trade
from core.strategies.ai_trend import AiTrendFollowing
from core.strategies.arbitrage import PairArbitrage
from core.strategies.base import Strategy
from core.strategies.mean_reversion import MeanReversion
from core.strategies.runner import StrategyContext, StrategyEngine
from core.strategies.sma_cross import SmaCross
from tests.strategies.helpers import FakeHost

SPOT_ONLY: frozenset[str] = frozenset()  # live, no venue configured for margin


def loaded(host: FakeHost, strategy: Strategy, symbols: tuple[str, ...] = ("BTC/USDT",),
           margin: frozenset[str] | None = SPOT_ONLY) -> tuple[StrategyEngine, StrategyContext]:
    engine = StrategyEngine(host, margin_venues=margin)
    return engine, engine.add(strategy, venue="paper", symbols=symbols, timeframe="1m")


async def bought(engine: StrategyEngine, size: str, symbol: str = "BTC/USDT", strategy: str = "s") -> None:
    await engine.on_fill(Fill(fill_id=f"f{size}{symbol}", client_order_id="c", venue="paper", symbol=symbol,
                              side=Side.BUY, price=Decimal(100), size=Decimal(size), strategy_id=strategy))


def sells(host: FakeHost) -> list[Decimal]:
    return [r.size for r in host.sent if r.side is Side.SELL]


async def test_a_short_target_on_spot_sells_only_what_is_held_and_says_so_once(
    clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    host = FakeHost(clock)
    engine, ctx = loaded(host, SmaCross(strategy_id="s"))
    await bought(engine, "2")
    await ctx.target_exposure("BTC/USDT", -0.5, Decimal(100))
    await ctx.target_exposure("BTC/USDT", -0.5, Decimal(100))  # the first sale has not filled yet
    assert sells(host) == [Decimal(2)]  # flat; the second would sell what the first already offers
    assert caplog.text.count("going flat where it would go short") == 1


@pytest.mark.parametrize(("symbol", "margin"), [("BTC/USDT", frozenset({"paper"})), ("BTC/USDT:USDT", SPOT_ONLY),
                                                ("BTC/USDT", None)])
async def test_margin_venues_perpetuals_and_backtests_may_short(clock: SimClock, symbol: str, margin: frozenset[str] | None) -> None:
    host = FakeHost(clock)
    engine, ctx = loaded(host, SmaCross(strategy_id="s"), (symbol,), margin)
    await bought(engine, "2", symbol)
    await ctx.target_exposure(symbol, -0.5, Decimal(100))
    assert sells(host)[0] > Decimal(2)


async def test_a_limit_sale_beyond_the_inventory_is_cut_to_it(clock: SimClock) -> None:
    host = FakeHost(clock)
    engine, ctx = loaded(host, SmaCross(strategy_id="s"))
    await bought(engine, "1.5")
    limit = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.SELL, type=OrderType.LIMIT, size=Decimal(1),
                         price=Decimal(110))
    assert await ctx.submit(limit) is not None
    assert await ctx.submit(limit.model_copy(update={"client_order_id": "second"})) is not None
    assert await ctx.submit(limit.model_copy(update={"client_order_id": "third"})) is None
    assert sells(host) == [Decimal(1), Decimal("0.5")]


async def closes_then_a_print(engine: StrategyEngine, closes: list[float]) -> None:
    """Candles closing at ``closes``, then a print at the last: a target set on a close is traded."""
    await engine.start()
    for k, close in enumerate(closes):
        await engine.on_candle("paper", "BTC/USDT", "1m", Candle(ts=k, open=close, high=close, low=close, close=close, volume=1))
    await engine.on_trade(Trade(venue="paper", symbol="BTC/USDT", ts=len(closes), price=Decimal(repr(closes[-1])),
                                size=Decimal(1), side=Side.SELL))


@pytest.mark.parametrize(("strategy", "closes", "target"), [
    (SmaCross({"fast": 2, "slow": 3}, strategy_id="s"), [10, 11, 12, 13, 9], -0.9999),  # a down cross
    (MeanReversion({"period": 10}, strategy_id="s"), [100, 100.5, 99.5, 100, 100.2, 99.8, 100.1, 99.9, 100, 130], -0.5),
])
async def test_crossover_and_mean_reversion_stay_flat_on_spot_where_they_would_short(
    clock: SimClock, strategy: Strategy, closes: list[float], target: float
) -> None:
    host = FakeHost(clock)
    engine, _ = loaded(host, strategy)
    await closes_then_a_print(engine, closes)
    assert strategy.targets == {"BTC/USDT": target}  # type: ignore[attr-defined]
    assert host.sent == []


async def test_ai_trend_on_spot_closes_a_long_on_a_sell_signal_and_opens_no_short(clock: SimClock) -> None:
    host = FakeHost(clock)
    engine, _ = loaded(host, AiTrendFollowing(strategy_id="s"))
    await engine.start()
    await bought(engine, "0.5")
    await engine.on_signal(Signal(instrument_id="BTC/USDT", direction=Direction.SELL, strength=1, confidence=1))
    await engine.on_trade(Trade(venue="paper", symbol="BTC/USDT", ts=9, price=Decimal(100), size=Decimal(1), side=Side.SELL))
    assert sells(host) == [Decimal("0.5")]


async def test_pair_arbitrage_on_spot_legs_sends_no_short_leg(clock: SimClock) -> None:
    host = FakeHost(clock)
    strategy = PairArbitrage({"lookback": 10}, strategy_id="s")
    engine, ctx = loaded(host, strategy, ("ETH/USDT", "BTC/USDT"))
    await engine.start()
    assert not await strategy.trade_legs([("ETH/USDT", Side.SELL, Decimal(1)), ("BTC/USDT", Side.BUY, Decimal("0.01"))])
    assert sells(host) == [] and strategy.unwinds == 1
