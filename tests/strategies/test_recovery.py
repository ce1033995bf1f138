"""After a restart every strategy knows its positions (from its own fills), its saved state and
its indicators' candles before it decides anything; a restart gives what no restart would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.clock import SimClock
from core.events import OrderFilled
from core.models import Candle, Fill, Side, Trade
from core.storage.database import Database
from core.strategies.ai_trend import AiTrendFollowing
from core.strategies.arbitrage import PairArbitrage
from core.strategies.base import Strategy
from core.strategies.mean_reversion import LONG, STOPPED_LONG, MeanReversion
from core.strategies.recovery import recover
from core.strategies.runner import STATE_KEY, StrategyContext, StrategyEngine
from core.strategies.sma_cross import SmaCross
from tests.strategies.helpers import FakeHost

MINUTE = 60_000


class Counter(Strategy):
    """Counts the prints it saw: state nothing else can rebuild."""

    name: ClassVar[str] = "counter"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks = 0

    async def on_tick(self, trade: Trade) -> None:
        self.ticks += 1

    def snapshot(self) -> dict[str, Any]:
        return {"ticks": self.ticks}

    async def recover(self, recovery: Any) -> None:
        self.ticks = int(recovery.saved["ticks"]) if recovery.saved else 0


def fill(fill_id: str, side: Side, size: str, price: str, strategy: str | None = "s", symbol: str = "BTC/USDT",
         fee: str = "0") -> Fill:
    return Fill(fill_id=fill_id, client_order_id=f"c-{fill_id}", venue="paper", symbol=symbol, side=side,
                price=Decimal(price), size=Decimal(size), fee=Decimal(fee), ts=1, strategy_id=strategy)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "db.sqlite") as opened:
        yield opened


async def restarted(db: Database, host: FakeHost, strategy: Strategy, symbols: tuple[str, ...] = ("BTC/USDT",),
                    timeframe: str = "1m") -> StrategyContext:
    """The strategy loaded into a fresh engine over ``db`` and recovered, as at start-up."""
    engine = StrategyEngine(host, store=db)
    ctx = engine.add(strategy, venue="paper", symbols=symbols, timeframe=timeframe)
    engine.subscribe()
    await recover(engine)
    return ctx


async def test_positions_come_back_from_the_strategys_own_fills(db: Database, clock: SimClock) -> None:
    fills = [
        fill("1", Side.BUY, "2", "100", fee="0.2"),
        fill("2", Side.BUY, "5", "101", strategy=None),  # a trade by hand on the same market
        fill("3", Side.SELL, "0.5", "110", fee="0.05"),
        fill("4", Side.SELL, "3", "90", strategy="other"),
    ]
    uninterrupted = StrategyEngine(FakeHost(clock))
    live = uninterrupted.add(Counter(strategy_id="s"), venue="paper", symbols=["BTC/USDT"], timeframe="1m")
    for f in fills:
        await db.record_fill(f)
        await uninterrupted.on_fill(f)

    ctx = await restarted(db, FakeHost(clock), Counter(strategy_id="s"))

    (book,) = ctx.books.values()
    assert (book.size, book.entry, book.realized, book.fees) == (Decimal("1.5"), Decimal(100), Decimal(5), Decimal("0.25"))
    assert ctx.info().positions == live.info().positions and ctx.pnl() == live.pnl()


async def test_a_fill_both_in_the_database_and_on_the_bus_is_booked_once(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    engine = StrategyEngine(host, store=db)
    ctx = engine.add(Counter(strategy_id="s"), venue="paper", symbols=["BTC/USDT"], timeframe="1m")
    engine.subscribe()
    booked = fill("1", Side.BUY, "2", "100")
    await db.record_fill(booked)  # recorded, then published while the strategies were recovering
    host.bus.publish(OrderFilled(booked))
    await recover(engine)
    task = asyncio.create_task(engine.run())
    host.bus.publish(OrderFilled(fill("2", Side.BUY, "1", "100")))
    for _ in range(10):
        await asyncio.sleep(0)
    engine.close()
    await task
    assert ctx.position("BTC/USDT") == Decimal(3)


async def test_state_is_saved_after_each_callback_and_given_back(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    engine = StrategyEngine(host, store=db)
    engine.add(Counter(strategy_id="s"), venue="paper", symbols=["BTC/USDT"], timeframe="1m")
    await engine.start()
    for k in range(3):
        await engine.on_trade(Trade(venue="paper", symbol="BTC/USDT", ts=k, price=Decimal(100), size=Decimal(1), side=Side.BUY))
    assert await db.get_state(STATE_KEY + "s") == '{"ticks": 3}'

    again = await restarted(db, host, Counter(strategy_id="s"))
    assert again.strategy.ticks == 3  # type: ignore[attr-defined]


async def test_an_unreadable_saved_state_falls_back_to_orders_and_positions(
    db: Database, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    await db.set_state(STATE_KEY + "s", '{"tick": "many"}')  # another version's shape
    ctx = await restarted(db, FakeHost(clock), Counter(strategy_id="s"))
    assert ctx.strategy.ticks == 0  # type: ignore[attr-defined]
    assert "saved state not usable (KeyError" in caplog.text
    await db.set_state(STATE_KEY + "s", "{not json")
    await restarted(db, FakeHost(clock), Counter(strategy_id="s"))
    assert "saved state is not JSON" in caplog.text


async def test_a_crossover_knows_its_position_after_a_restart(db: Database, clock: SimClock) -> None:
    await db.record_fill(fill("1", Side.BUY, "10", "100", strategy="cross"))
    host = FakeHost(clock)
    ctx = await restarted(db, host, SmaCross({"fast": 2, "slow": 3}, strategy_id="cross"))
    assert ctx.position("BTC/USDT") == Decimal(10)
    await ctx.target_exposure("BTC/USDT", -0.5, Decimal(100))  # the down cross: reverse
    (order,) = host.sent
    assert order.side is Side.SELL and order.size > Decimal(10)  # what it holds, then the short


async def test_indicator_candles_come_back_when_they_continue_the_series(db: Database, clock: SimClock) -> None:
    now = clock.now_ms()
    old = [Candle(ts=now - 500 * MINUTE + k * MINUTE, open=1, high=1, low=1, close=1, volume=1) for k in range(20)]
    recent = [Candle(ts=now - (8 - k) * MINUTE, open=k, high=k, low=k, close=k, volume=1) for k in range(8)]
    await db.save_candles("paper", "BTC/USDT", "1m", old + recent)
    strategy = MeanReversion({"period": 5}, strategy_id="mr")
    await restarted(db, FakeHost(clock), strategy)
    assert list(strategy.history("BTC/USDT").close) == [3, 4, 5, 6, 7]  # the last five, none from before the gap


async def test_mean_reversion_keeps_a_stopped_side_and_knows_an_unsaved_position(db: Database, clock: SimClock) -> None:
    host = FakeHost(clock)
    engine = StrategyEngine(host, store=db)
    strategy = MeanReversion(strategy_id="mr")
    ctx = engine.add(strategy, venue="paper", symbols=["BTC/USDT", "ETH/USDT"], timeframe="1m")
    strategy.states = {"BTC/USDT": STOPPED_LONG}
    await ctx.save_state()
    await db.record_fill(fill("1", Side.BUY, "1", "2000", strategy="mr", symbol="ETH/USDT"))

    again = MeanReversion(strategy_id="mr")
    await restarted(db, host, again, symbols=("BTC/USDT", "ETH/USDT"))
    assert again.states == {"BTC/USDT": STOPPED_LONG, "ETH/USDT": LONG}  # the long is exited by the band


async def test_pair_arbitrage_side_follows_its_first_leg(db: Database, clock: SimClock) -> None:
    await db.record_fill(fill("1", Side.SELL, "1", "2000", strategy="pair", symbol="ETH/USDT"))
    await db.record_fill(fill("2", Side.BUY, "0.05", "60000", strategy="pair"))
    strategy = PairArbitrage(strategy_id="pair")
    await restarted(db, FakeHost(clock), strategy, symbols=("ETH/USDT", "BTC/USDT"))
    assert strategy.side == -1  # short A, long B: closed again when the spread converges


async def test_ai_trend_watches_a_position_it_has_no_plan_for(db: Database, clock: SimClock) -> None:
    await db.record_fill(fill("1", Side.BUY, "0.01", "100", strategy="ai"))
    strategy = AiTrendFollowing({"stop_loss_pct": 0.02, "take_profit_pct": 0.06}, strategy_id="ai")
    await restarted(db, FakeHost(clock), strategy)
    plan = strategy.plans["BTC/USDT"]
    assert (plan.side, plan.stop_loss, plan.take_profit) == (1, pytest.approx(98), pytest.approx(106))
