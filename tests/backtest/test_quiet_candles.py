"""A candle inside which nothing can happen is not replayed print by print (``Backtester._quiet``):
these tests hold each reason a candle must still be replayed, by what a strategy that does not
listen to prints sees, so each fails if the skip ignored that reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import numpy as np

from core.backtest.data import Bars, Tape, bars_from_arrays
from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.models import Candle, Direction, Fill, OrderRequest, OrderType, Side, Signal, Trade
from core.strategies.base import Strategy
from core.strategies.grid import Grid
from core.strategies.sma_cross import SmaCross

H = 3_600_000
SETTINGS = BacktestSettings(cash=1000.0, fee=0.001)


def hourly(rows: list[tuple[float, float, float, float]]) -> Bars:
    return bars_from_arrays("BTC/USDT", "1h", [k * H for k in range(len(rows))], [(*row, 10.0) for row in rows])


class OnClose(Strategy):
    """Sends the given orders at the given candles' closes and never listens to prints."""

    name: ClassVar[str] = "on_close"
    script: ClassVar[dict[int, list[dict[str, Any]]]] = {}

    def __init__(self, params: Any = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.bars = 0
        self.fills: list[Fill] = []
        self.signals: list[tuple[str, int]] = []

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        for fields in self.script.get(self.bars, []):
            await self.ctx.submit(OrderRequest(venue="backtest", symbol=symbol, **fields))
        self.bars += 1

    async def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    async def on_signal(self, signal: Signal) -> None:
        self.signals.append((signal.signal_id, self.ctx.now_ms()))


async def run(strategy: Strategy, bars: Bars, **given: Any) -> Backtester:
    tester = Backtester(bars, SETTINGS, **given)
    tester.strategies.add(strategy, venue="backtest", symbols=[bars.symbol], timeframe=bars.timeframe)
    await tester.run()
    return tester


async def test_resting_orders_meet_every_print_of_every_later_candle() -> None:
    # candles 1-3 never reach 96 or 97; candle 4 (bearish: open, high, low, close) reaches both at its low
    bars = hourly([(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 98, 99), (99, 101, 98, 100),
                   (100, 100, 94, 95), (95, 96, 94, 95)])
    OnClose.script = {0: [
        {"side": Side.BUY, "type": OrderType.LIMIT, "size": Decimal(1), "price": Decimal(96)},
        {"side": Side.SELL, "type": OrderType.STOP_MARKET, "size": Decimal(1), "trigger_price": Decimal(97)},
    ]}
    strategy = OnClose()
    tester = await run(strategy, bars)
    limit, stop = sorted(strategy.fills, key=lambda fill: fill.side is Side.SELL)
    low_print = 4 * H + 2 * H // 3  # the third print of candle 4
    assert (limit.price, limit.ts, limit.liquidity.value) == (Decimal(96), low_print, "maker")
    assert (stop.price, stop.ts) == (Decimal("93.99"), low_print)  # the bid under the gap to 94
    assert tester.open_orders() == [] and len(tester.trades) == 1


async def test_an_order_sent_at_a_close_fills_at_the_price_the_candle_left() -> None:
    bars = hourly([(100, 110, 90, 104), (104, 106, 103, 105)])
    OnClose.script = {0: [{"side": Side.BUY, "type": OrderType.MARKET, "size": Decimal(1)}]}
    strategy = OnClose()
    await run(strategy, bars)
    (fill,) = strategy.fills
    assert (fill.price, fill.ts) == (Decimal(104), H)


async def test_a_candle_with_a_signal_due_is_replayed_to_the_print_that_delivers_it() -> None:
    bars = hourly([(100, 101, 99, 100)] * 3)
    signal = Signal(instrument_id="BTC/USDT", direction=Direction.BUY, strength=1, confidence=1,
                    generated_time=H + H // 2, source="test")
    strategy = OnClose()
    OnClose.script = {}
    await run(strategy, bars, signals=[signal])
    assert strategy.signals == [(signal.signal_id, H + 2 * H // 3)]  # the third print of candle 1, not candle 2's open


class Listening(Strategy):
    """Wants the prints of the candles in ``wanted`` only, and records every print it is given."""

    name: ClassVar[str] = "listening"
    wanted: ClassVar[set[int]] = set()

    def __init__(self, params: Any = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.closed = 0
        self.prints: list[tuple[int, Decimal]] = []

    def wants_ticks(self, symbol: str) -> bool:
        return self.closed in self.wanted

    async def on_tick(self, trade: Trade) -> None:
        self.prints.append((trade.ts, trade.price))

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        self.closed += 1


async def test_only_the_candles_a_strategy_listens_to_are_replayed_print_by_print() -> None:
    bars = hourly([(100, 101, 99, 100), (100, 104, 98, 102), (102, 103, 101, 101)])
    Listening.wanted = {1}
    strategy = Listening()
    await run(strategy, bars)
    # candle 1 is bullish: open, low, high, close
    assert strategy.prints == [(H, Decimal(100)), (H + H // 3, Decimal(98)), (H + 2 * H // 3, Decimal(104)),
                               (2 * H - 1, Decimal(102))]


async def test_skipped_candles_of_a_tape_leave_its_last_trade_as_the_price() -> None:
    bars = hourly([(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100)])
    # trades in candles 0 and 2 only: candle 1 leaves candle 0's last price, candle 2 its own
    tape = Tape("BTC/USDT", np.array([10, 20, 2 * H + 5, 2 * H + 9]), np.array([100.5, 99.5, 100.25, 100.75]),
                np.ones(4), np.array([1, -1, 1, 1]))
    OnClose.script = {1: [{"side": Side.BUY, "type": OrderType.MARKET, "size": Decimal(1)}],
                      2: [{"side": Side.SELL, "type": OrderType.MARKET, "size": Decimal(1)}]}
    strategy = OnClose()
    await run(strategy, bars, tapes={"BTC/USDT": tape})
    assert [(fill.side, fill.price, fill.ts) for fill in strategy.fills] == [
        (Side.BUY, Decimal("99.5"), 2 * H), (Side.SELL, Decimal("100.75"), 3 * H)]


def test_a_target_strategy_wants_prints_only_while_a_target_is_pending() -> None:
    strategy = SmaCross()
    assert not strategy.wants_ticks("BTC/USDT")
    strategy.aim("BTC/USDT", 0.5)
    assert strategy.wants_ticks("BTC/USDT") and not strategy.wants_ticks("ETH/USDT")


def test_a_strategy_with_its_own_on_tick_wants_every_print() -> None:
    assert Grid({"lower": 90.0, "upper": 110.0}).wants_ticks("BTC/USDT")
    assert not OnClose().wants_ticks("BTC/USDT")


class FirstPrint(Strategy):
    """Listens to candle 1 until its first print, where it buys at the market."""

    name: ClassVar[str] = "first_print"

    def __init__(self, params: Any = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.closed = 0
        self.prints: list[int] = []
        self.fills: list[Fill] = []

    def wants_ticks(self, symbol: str) -> bool:
        return self.closed == 1 and not self.prints

    async def on_tick(self, trade: Trade) -> None:
        self.prints.append(trade.ts)
        await self.ctx.submit(OrderRequest(venue="backtest", symbol=trade.symbol, side=Side.BUY, type=OrderType.MARKET,
                                           size=Decimal(1)))

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        self.closed += 1

    async def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


async def test_a_candle_stops_being_replayed_when_its_remaining_prints_can_change_nothing() -> None:
    bars = hourly([(100, 101, 99, 100), (100, 101, 96, 98), (98, 99, 97, 98)])
    strategy = FirstPrint()
    tester = await run(strategy, bars)
    assert strategy.prints == [H]  # the order filled there and the strategy stopped listening: no more prints
    (fill,) = strategy.fills
    assert (fill.price, fill.ts) == (Decimal(100), H)
    assert tester.equity() == Decimal(1000) - Decimal("0.1") + (98 - 100)  # marked at the close all the same
