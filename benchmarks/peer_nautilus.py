"""The peer of ``bench_backtest.py``'s ``event_bars_per_s``: NautilusTrader's ``BacktestEngine``
on the same candles and the same strategy (SMA 20/100 crossover, long/short, reversing on each
cross, market orders), timed from the engine's run alone (its imports and the candles' loading
are not counted, as ours are not).

It runs in its own interpreter because nautilus_trader pins pandas below 3 and this project
needs 3: ``python3 -m venv .venv-nautilus && .venv-nautilus/bin/pip install nautilus_trader``.
Usage: ``peer_nautilus.py CANDLES.npy FAST SLOW``; the file holds rows of (ts ms, open, high,
low, close, volume). Prints one JSON line: bars, seconds, orders, crossings.
"""

from __future__ import annotations

import json
import logging
import sys
import time

import numpy as np
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy


class SmaCrossConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    bar_type: BarType
    fast: int
    slow: int
    size: float


class SmaCross(Strategy):
    """Our ``SmaCross`` rule: the fast average crosses the slow one, the position reverses."""

    def __init__(self, config: SmaCrossConfig) -> None:
        super().__init__(config)
        self.fast = SimpleMovingAverage(config.fast)
        self.slow = SimpleMovingAverage(config.slow)
        self.previous: tuple[float, float] | None = None
        self.position = 0
        self.crossings = 0
        self.orders = 0

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        now = (self.fast.value, self.slow.value)
        before, self.previous = self.previous, now
        if before is None:
            return
        if before[0] < before[1] and now[0] > now[1]:
            self._go(1)
        elif before[0] > before[1] and now[0] < now[1]:
            self._go(-1)

    def _go(self, target: int) -> None:
        self.crossings += 1
        lots = abs(target - self.position)
        if lots == 0:
            return
        side = OrderSide.BUY if target > self.position else OrderSide.SELL
        quantity = self.instrument.make_qty(self.config.size * lots)
        self.submit_order(self.order_factory.market(self.config.instrument_id, side, quantity))
        self.orders += 1
        self.position = target


def main() -> int:
    path, fast, slow = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows = np.load(path)
    frame = pd.DataFrame(rows[:, 1:], columns=["open", "high", "low", "close", "volume"],
                         index=pd.to_datetime(rows[:, 0].astype(np.int64), unit="ms", utc=True))
    frame.index.name = "timestamp"
    logging.disable(logging.CRITICAL)
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    venue = Venue("BINANCE")
    engine.add_venue(venue, oms_type=OmsType.NETTING, account_type=AccountType.MARGIN, base_currency=USDT,
                     starting_balances=[Money(1_000_000_000, USDT)])
    instrument = TestInstrumentProvider.btcusdt_binance()
    engine.add_instrument(instrument)
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    engine.add_data(BarDataWrangler(bar_type, instrument).process(frame))
    strategy = SmaCross(SmaCrossConfig(instrument_id=instrument.id, bar_type=bar_type, fast=fast, slow=slow, size=1.0))
    engine.add_strategy(strategy)
    started = time.perf_counter()
    cpu = time.process_time()
    engine.run()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"bars": len(frame), "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "orders": strategy.orders, "crossings": strategy.crossings}))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
