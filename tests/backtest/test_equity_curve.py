"""The equity curve worked out after the replay (``core.backtest.equity``) is, candle for candle
and bit for bit, the float of ``Backtester.equity()`` at each close."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar

from core.backtest.data import Bars, bars_from_arrays
from core.backtest.engine import Backtester
from core.backtest.equity import EquityCurve
from core.backtest.result import BacktestSettings
from core.models import Candle, FundingRate, OrderRequest, OrderType, Side
from core.strategies.base import Strategy

H = 3_600_000


def test_a_segment_decimal_rounds_is_evaluated_in_decimal() -> None:
    # this cash lies just past the midpoint between two floats; Decimal's 28 digits round it
    # below, to the lower float: the exact value's float is the upper one
    cash = Decimal("1847.4337369372327657401910983026037679443359375")
    assert float(Fraction(cash)) != float(cash + 0)
    curve = EquityCurve()
    for marks in curve.moved(0, cash, [(Decimal(1), Decimal(0), Decimal(1), Decimal(1))]):
        marks.extend([0, 0])
    assert curve.values(2).tolist() == [float(cash + 0)] * 2


def test_exact_segments_are_the_decimal_equity_as_floats() -> None:
    cash, tick, entry, size = Decimal("881900.863137571054700"), Decimal("0.0001"), Decimal("27883.68"), Decimal("-31.62468457")
    marks = [278034200, 278801234, 262000000, 300000001]
    curve = EquityCurve()
    curve.moved(0, Decimal(1000), [])
    (place,) = curve.moved(2, cash, [(tick, entry, size, Decimal(1))])
    place.extend(marks)
    assert curve.values(6).tolist() == [1000.0, 1000.0] + [float(cash + (m * tick - entry) * size) for m in marks]
    assert curve.exposed(6) == 4


class Trader(Strategy):
    """Buys and sells each symbol at given closes, recording the account's equity at each close."""

    name: ClassVar[str] = "trader"
    script: ClassVar[dict[tuple[int, str], tuple[Side, str]]] = {}

    def __init__(self, params: Any = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.closes = 0
        self.equity: list[float] = []

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        order = self.script.get((self.closes, symbol))
        if order is not None:
            await self.ctx.submit(OrderRequest(venue="backtest", symbol=symbol, side=order[0], type=OrderType.MARKET,
                                               size=Decimal(order[1])))
        if symbol == self.ctx.symbols[-1]:  # every market has closed: the equity the curve takes
            self.equity.append(float(self.ctx.host.equity()))
            self.closes += 1


def hourly(symbol: str, closes: list[float]) -> Bars:
    rows = [(c, c * 1.01, c * 0.99, c, 5.0) for c in closes]
    return bars_from_arrays(symbol, "1h", [k * H for k in range(len(closes))], rows)


async def test_the_curve_is_the_equity_at_each_close_through_fills_funding_and_two_positions() -> None:
    btc = hourly("BTC/USDT:USDT", [100.0, 101.37, 99.21, 103.33, 104.07, 98.19, 97.5, 102.2])
    eth = hourly("ETH/USDT:USDT", [10.0, 10.13, 10.27, 9.91, 9.87, 10.41, 10.05, 10.5])
    Trader.script = {(0, "BTC/USDT:USDT"): (Side.BUY, "0.37"), (1, "ETH/USDT:USDT"): (Side.SELL, "3.3"),
                     (3, "BTC/USDT:USDT"): (Side.BUY, "0.21"), (5, "BTC/USDT:USDT"): (Side.SELL, "0.58"),
                     (6, "ETH/USDT:USDT"): (Side.BUY, "3.3")}
    funding = {"BTC/USDT:USDT": [FundingRate(ts=2 * H + 5, rate=0.0003), FundingRate(ts=4 * H + 5, rate=-0.0001)]}
    tester = Backtester([btc, eth], BacktestSettings(cash=1000.0, fee=0.00075), funding=funding)
    strategy = Trader()
    tester.strategies.add(strategy, venue="backtest", symbols=[btc.symbol, eth.symbol], timeframe="1h")
    curve = await tester.run()
    assert tester.funding != 0 and len(tester.trades) == 2
    assert curve.tolist() == strategy.equity
    assert tester.exposed_bars == 6  # closes 0 to 5: the last ETH order flattened the account at close 6
