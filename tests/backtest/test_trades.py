"""Backtesting on recorded trades: loading and checking them, candles built from them, and the
backtester replaying every trade."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from core.backtest.data import DataError, bars_from_trades, is_trades_file, load_trades
from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.models import Side, Trade
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA

TRADES = DATA / "binance_BTC_USDT-trades-20210108.csv"


@pytest.fixture(scope="module")
def tape():
    return load_trades(TRADES, symbol="BTC/USDT")


def test_trades_load_and_become_candles(tape) -> None:
    assert is_trades_file(TRADES) and not is_trades_file(DATA / "binance_BTC_USDT-1h-5000.csv")
    assert len(tape) == 2001 and set(np.unique(tape.side)) == {-1, 1}
    bars = bars_from_trades(tape, "1s")
    assert len(bars) == 47 and bars.step_ms == 1000
    first = tape.ts < bars.ts[0] + 1000
    assert bars.open[0] == tape.price[0] and bars.close[0] == tape.price[first][-1]
    assert bars.high[0] == tape.price[first].max() and bars.volume[0] == pytest.approx(tape.size[first].sum())


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1610064000100,1,39432.48,0.1,hold", "line 3: side must be buy or sell (got 'hold')"),
        ("1610064000100,1,-5,0.1,buy", "line 3: price must be a positive number (got '-5')"),
        ("1610064000000,1,39432.48,0.1,buy", "line 3: timestamps are not sorted"),
    ],
)
def test_bad_trades_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(f"timestamp,id,price,amount,side\n1610064000050,0,39432.48,0.1,sell\n{row}\n")
    with pytest.raises(DataError) as info:
        load_trades(path)
    assert message in str(info.value) and str(path) in str(info.value)


class Recorder(SmaCross):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.ticks: list[Trade] = []

    async def on_tick(self, trade: Trade) -> None:
        self.ticks.append(trade)
        await super().on_tick(trade)


async def test_the_backtester_replays_every_recorded_trade(tape) -> None:
    bars = bars_from_trades(tape, "1s")
    tester = Backtester(bars, BacktestSettings(cash=10_000.0, fee=0.001), tapes={"BTC/USDT": tape})
    strategy = Recorder({"fast": 2, "slow": 5})
    tester.strategies.add(strategy, venue="backtest", symbols=["BTC/USDT"], timeframe="1s")
    await tester.run()
    assert [t.ts for t in strategy.ticks] == tape.ts.tolist()
    assert strategy.ticks[0].side is Side.SELL and strategy.ticks[0].size == Decimal("0.000263")
    assert tester.trades, "the crossover should trade within the 47 seconds"
    for trade in tester.trades:  # fills happen at recorded prices, at the first trade after the cross
        k = int(np.searchsorted(tape.ts, trade.entry_ts))
        assert tape.ts[k] == trade.entry_ts and trade.entry_price == pytest.approx(tape.price[k])
        assert tape.ts[k - 1] < bars.ts[trade.entry_bar] <= tape.ts[k]
