"""The StrategyEngine: dispatch, the bus, allocation, PnL attribution, errors and versions."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from core.backtest.data import bars_from_arrays, load_bars
from core.backtest.engine import Backtester, StrategyFailed
from core.backtest.result import BacktestSettings
from core.clock import SimClock
from core.config import StrategyConfig
from core.events import CandleClosed, OrderFilled, SignalGenerated, TradePrinted
from core.models import Candle, Direction, Fill, Instrument, Side, Signal, Trade
from core.strategies import registry
from core.strategies.base import CandleLike, ParameterError, Strategy
from core.strategies.mean_reversion import MeanReversion
from core.strategies.runner import StrategyEngine
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA
from tests.strategies.helpers import FakeHost


class Recorder(Strategy):
    name: ClassVar[str] = "recorder"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[str] = []

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        self.seen.append(f"bar {candle.close}")
        self.ctx.emit(symbol, Direction.BUY)
        if self.strategy_id == "bad" and candle.close < 0.5:
            raise RuntimeError("cannot handle tiny prices")

    async def on_tick(self, trade: Trade) -> None:
        self.seen.append(f"tick {trade.price}")

    async def on_signal(self, signal: Signal) -> None:
        self.seen.append(f"signal {signal.source}")

    async def on_fill(self, fill: Fill) -> None:
        self.seen.append(f"fill {fill.size}")


CANDLE = Candle(ts=0, open=1, high=2, low=0.5, close=1.5, volume=3)


async def test_dispatch_from_the_bus(clock: SimClock) -> None:
    host = FakeHost(clock)
    engine = StrategyEngine(host)
    strategy = Recorder(strategy_id="r1")
    engine.add(strategy, venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.5)
    await engine.start()
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0)
    fill = Fill(fill_id="f1", client_order_id="c1", venue="paper", symbol="BTC/USDT", side=Side.BUY,
                price=Decimal(100), size=Decimal(2), fee=Decimal("0.2"), strategy_id="r1")
    for event in (
        CandleClosed("paper", "BTC/USDT", "1m", CANDLE),
        CandleClosed("paper", "BTC/USDT", "5m", CANDLE),  # another timeframe: not this strategy's
        TradePrinted(Trade(venue="paper", symbol="BTC/USDT", ts=1, price=Decimal(101), size=Decimal(1), side=Side.BUY)),
        SignalGenerated(Signal(instrument_id="BTC/USDT", direction=Direction.BUY, strength=1, confidence=1)),
        OrderFilled(fill),
        OrderFilled(fill.model_copy(update={"fill_id": "f2", "strategy_id": "someone-else"})),
    ):
        host.bus.publish(event)
    for _ in range(20):
        await asyncio.sleep(0)
    engine.close()
    await task
    # the bus hands over order and signal events before market data; the strategy's own signal
    # came back over the bus and was not routed to strategies
    assert sorted(strategy.seen) == ["bar 1.5", "fill 2", "signal ai_prediction", "tick 101"]
    (info,) = engine.list_strategies()
    assert info.positions == {"BTC/USDT": Decimal(2)} and info.fees == Decimal("0.2")
    assert info.unrealized_pnl == Decimal(2) and info.pnl == Decimal("1.8")  # marked at the 101 print
    assert [s.source for s in info.recent_signals] == ["strategy:r1"]


async def test_a_failing_strategy_is_stopped_alone(clock: SimClock) -> None:
    engine = StrategyEngine(FakeHost(clock))
    bad, good = Recorder(strategy_id="bad"), Recorder(strategy_id="good")
    for strategy in (bad, good):
        engine.add(strategy, venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.4)
    await engine.start()
    tiny = CANDLE.model_copy(update={"close": 0.4, "low": 0.4})
    signals = await engine.on_candle("paper", "BTC/USDT", "1m", tiny)
    assert [s.source for s in signals] == ["strategy:bad", "strategy:good"]
    states = {i.strategy_id: (i.state, i.last_error) for i in engine.list_strategies()}
    assert states == {"bad": ("error", "RuntimeError: cannot handle tiny prices"), "good": ("running", None)}
    await engine.on_candle("paper", "BTC/USDT", "1m", CANDLE)
    assert good.seen == ["bar 0.4", "bar 1.5"] and bad.seen == ["bar 0.4"]
    await engine.start("bad")  # a person restarts it after reading the error
    assert engine.context("bad").state == "running" and engine.context("bad").last_error is None


class PlainRecorder(Strategy):
    """``on_bar`` as a plain ``def``: it awaits nothing, so the engine calls it without a coroutine."""

    name: ClassVar[str] = "plain_recorder"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[int, float, float]] = []

    def on_bar(self, symbol: str, candle: CandleLike) -> None:
        self.seen.append((candle.ts, candle.close, float(self.history(symbol).close[-1])))
        self.ctx.emit(symbol, Direction.BUY)
        if candle.close < 0.5:
            raise RuntimeError("cannot handle tiny prices")


async def test_a_plain_on_bar_runs_live_as_an_async_one_does(clock: SimClock) -> None:
    engine = StrategyEngine(FakeHost(clock))
    plain, recorder = PlainRecorder(strategy_id="plain"), Recorder(strategy_id="async")
    engine.add(plain, venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.4)
    engine.add(recorder, venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.4)
    await engine.start()
    emitted = [[s.source for s in await engine.on_candle("paper", "BTC/USDT", "1m", candle)]
               for candle in (CANDLE, CANDLE.model_copy(update={"close": 0.4, "low": 0.4}), CANDLE)]
    assert emitted == [["strategy:plain", "strategy:async"]] * 2 + [["strategy:async"]]
    assert plain.seen == [(0, 1.5, 1.5), (0, 0.4, 0.4)] and recorder.seen == ["bar 1.5", "bar 0.4", "bar 1.5"]
    assert engine.context("plain").last_error == "RuntimeError: cannot handle tiny prices"


async def test_the_backtester_hands_a_plain_on_bar_each_candle_and_stops_on_its_error() -> None:
    closes = [3.0, 2.0, 1.0, 0.4, 5.0]
    bars = bars_from_arrays("BTC/USDT", "1m", [k * 60_000 for k in range(5)], [(c, c, c, c, 1.0) for c in closes])
    tester = Backtester(bars, BacktestSettings(cash=1000.0, fee=0.001))
    plain = PlainRecorder()
    tester.strategies.add(plain, venue="backtest", symbols=["BTC/USDT"], timeframe="1m")
    with pytest.raises(StrategyFailed, match="cannot handle tiny prices"):
        await tester.run()
    assert plain.seen == [(k * 60_000, c, c) for k, c in enumerate(closes[:4])]


async def test_allocations_cannot_exceed_the_capital(clock: SimClock) -> None:
    engine = StrategyEngine(FakeHost(clock))
    engine.add(Recorder(strategy_id="a"), venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.7)
    with pytest.raises(ValueError, match="allocations would add up to 110% of the capital"):
        engine.add(Recorder(strategy_id="b"), venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.4)
    with pytest.raises(ValueError, match="already loaded"):
        engine.add(Recorder(strategy_id="a"), venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.1)


async def test_orders_carry_the_strategy_id_and_use_its_allocation(clock: SimClock) -> None:
    host = FakeHost(clock)
    engine = StrategyEngine(host)
    strategy = Recorder(strategy_id="alloc")
    ctx = engine.add(strategy, venue="paper", symbols=["BTC/USDT"], timeframe="1m", allocation_pct=0.25)
    await ctx.target_exposure("BTC/USDT", -0.5, Decimal(100))
    (request,) = host.sent
    assert request.strategy_id == "alloc" and request.side is Side.SELL
    assert request.size == Decimal("12.487")  # 10000 * 0.25 * 0.5 / (100 * 1.001), whole lots of 0.001


class FakeVersions:
    def __init__(self) -> None:
        self.saved: list[tuple[str, dict, str, int]] = []

    async def save_strategy_version(self, name: str, params: dict, note: str = "", ts: int = 0) -> int:
        self.saved.append((name, params, note, ts))
        return len(self.saved)

    async def strategy_versions(self, name: str) -> list[dict]:
        return [{"name": n, "version": k + 1, "params": p} for k, (n, p, _, _) in enumerate(self.saved) if n == name]


async def test_parameter_changes_are_validated_and_versioned(clock: SimClock) -> None:
    versions = FakeVersions()
    engine = StrategyEngine(FakeHost(clock), versions=versions)
    (ctx,) = registry.load(engine, {"btc_sma": StrategyConfig(kind="sma_cross", venue="paper", fast=10, slow=50)})
    params = await engine.set_params("btc_sma", {"fast": "15"}, note="tighter")
    assert params["fast"] == 15 and ctx.strategy.params["fast"] == 15
    assert versions.saved == [("btc_sma", params, "tighter", clock.now_ms())]
    with pytest.raises(ParameterError, match="fast \\(60\\) must be smaller than slow \\(50\\)"):
        await engine.set_params("btc_sma", {"fast": 60})
    assert ctx.strategy.params["fast"] == 15
    with pytest.raises(KeyError, match="no strategy 'nope' is loaded"):
        engine.context("nope")


async def test_two_strategies_share_an_account_with_separate_pnl() -> None:
    bars = load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(0, 1200)
    tester = Backtester(bars, BacktestSettings(cash=100_000.0, fee=0.001))
    trend = SmaCross({"fast": 10, "slow": 40}, strategy_id="trend")
    revert = MeanReversion({"period": 30}, strategy_id="revert")
    tester.strategies.add(trend, venue="backtest", symbols=["BTC/USDT"], timeframe="1h", allocation_pct=0.6)
    tester.strategies.add(revert, venue="backtest", symbols=["BTC/USDT"], timeframe="1h", allocation_pct=0.4)
    await tester.run()
    infos = {i.strategy_id: i for i in tester.strategies.list_strategies()}
    assert infos["trend"].orders_sent > 5 and infos["revert"].orders_sent > 5
    total = sum((i.pnl for i in infos.values()), Decimal(0))
    assert float(tester.equity() - Decimal(100_000)) == pytest.approx(float(total), rel=1e-9)
    assert trend.ctx.position("BTC/USDT") + revert.ctx.position("BTC/USDT") == tester.position("backtest", "BTC/USDT").signed_size


async def test_stored_versions_are_restored_at_start_up(clock: SimClock) -> None:
    versions = FakeVersions()
    await versions.save_strategy_version("a", {"fast": 7, "slow": 50})
    await versions.save_strategy_version("b", {"fast": 7, "slow": 5})  # no longer valid
    engine = StrategyEngine(FakeHost(clock), versions=versions)
    registry.load(engine, {
        "a": StrategyConfig(kind="sma_cross", venue="paper", allocation_pct=0.3),
        "b": StrategyConfig(kind="sma_cross", venue="paper", allocation_pct=0.3),
        "c": StrategyConfig(kind="sma_cross", venue="paper", allocation_pct=0.3, fast=9),
    })
    assert await engine.restore_versions() == {"a": 1}
    params = {i.strategy_id: i.params["fast"] for i in engine.list_strategies()}
    assert params == {"a": 7, "b": 20, "c": 9}


async def test_resizing_in_the_same_direction_trades_only_the_difference(clock: SimClock) -> None:
    host = FakeHost(clock)
    engine = StrategyEngine(host)
    ctx = engine.add(Recorder(strategy_id="r"), venue="paper", symbols=["BTC/USDT"], timeframe="1m")
    await engine.on_fill(Fill(fill_id="f", client_order_id="c", venue="paper", symbol="BTC/USDT", side=Side.BUY,
                              price=Decimal(100), size=Decimal(40), strategy_id="r"))
    await ctx.target_exposure("BTC/USDT", 0.5, Decimal(100))
    await ctx.target_exposure("BTC/USDT", -0.5, Decimal(100))
    grow, flip = host.sent
    assert (grow.side, grow.size) == (Side.BUY, Decimal("9.950"))  # 10000 * 0.5 / 100.1 = 49.950 held
    # reversing (the fake venue filled nothing since): sell the 40 held, then short 0.5 of the
    # 9996 left after the 4 of fees closing them would cost: 4998 / 100.1 = 49.930
    assert (flip.side, flip.size) == (Side.SELL, Decimal(40) + Decimal("49.930"))


class ContractHost(FakeHost):
    """Perpetuals here are contracts worth 0.1 of the base."""

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return super().instrument(venue, symbol).model_copy(update={"contract_size": Decimal("0.1")})


async def test_a_strategys_pnl_counts_the_contract_size(clock: SimClock) -> None:
    """The strategy's books used to count every contract as a whole coin: ten times the PnL."""
    engine = StrategyEngine(ContractHost(clock))
    ctx = engine.add(Recorder(strategy_id="r"), venue="paper", symbols=["ETH/USDT:USDT"], timeframe="1m")
    for n, (side, price) in enumerate(((Side.BUY, 2000), (Side.SELL, 2100))):
        await engine.on_fill(Fill(fill_id=f"f{n}", client_order_id=f"c{n}", venue="paper", symbol="ETH/USDT:USDT",
                                  side=side, price=Decimal(price), size=Decimal(3), fee=Decimal("0.1"), strategy_id="r"))
    [info] = engine.list_strategies()
    assert (info.realized_pnl, info.fees, info.positions) == (Decimal(30), Decimal("0.2"), {})
    ctx.mark("ETH/USDT:USDT", Decimal(2050))
    assert ctx.pnl() == Decimal("29.8")
