"""backtesting.py's whole process on a candles CSV, the peer of ``opentrade backtest --engine
fast`` in ``bench_backtest.py``: what a person would write to get the same answer with it.

It reads the file with pandas, runs the canonical SMA crossover (close, then reverse, orders
sized at 0.9999 of the equity) through ``FractionalBacktest`` and prints the trade count and
the final equity as one JSON line. It imports nothing from this project.

Run: ``python benchmarks/peer_backtesting_py.py CANDLES.csv FAST SLOW CASH FEE``.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover


def sma(values: np.ndarray, n: int) -> pd.Series:
    return pd.Series(values).rolling(n).mean()


def main() -> int:
    path, fast, slow, cash, fee = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    frame = pd.read_csv(path)
    frame.index = pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True)
    frame.columns = [name.capitalize() for name in frame.columns]

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=0.9999)
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=0.9999)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = FractionalBacktest(frame, SmaCross, cash=cash, commission=fee, finalize_trades=False).run()
    print(json.dumps({"trades": int(stats["# Trades"]), "final_equity": float(stats["Equity Final [$]"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
