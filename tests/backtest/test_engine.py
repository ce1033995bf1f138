"""The event-driven backtester: same trades as the vectorised path, and the matching engine's
fees, slippage, latency, partial fills, resting and stop orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import numpy as np
import pytest

from core.backtest.data import Bars, DataError, bars_from_arrays, load_bars
from core.backtest.engine import Backtester, backtest, backtest_async
from core.backtest.fast import run_fast
from core.backtest.result import BacktestSettings, Slippage
from core.executor import OrderRefused
from core.models import Fill, OrderRequest, OrderStatus, OrderType, Side, Trade
from core.strategies.base import Strategy
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA

H = 3_600_000


def flat_bars(rows: list[tuple[float, float, float, float]], symbol: str = "BTC/USDT") -> Bars:
    ts = [k * H for k in range(len(rows))]
    return bars_from_arrays(symbol, "1h", ts, [(*row, 10.0) for row in rows])


class Scripted(Strategy):
    """Sends the given requests at the given (bar, replayed price) moments and records fills."""

    name: ClassVar[str] = "scripted"
    script: ClassVar[dict[tuple[int, int], list[dict[str, Any]]]] = {}

    def __init__(self, params: Any = None, *, strategy_id: str | None = None) -> None:
        super().__init__(params, strategy_id=strategy_id)
        self.fills: list[Fill] = []
        self.orders: list[Any] = []
        self.seen = 0

    async def on_tick(self, trade: Trade) -> None:
        moment = (self.seen // 4, self.seen % 4)
        self.seen += 1
        for fields in self.script.get(moment, []):
            request = OrderRequest(venue="backtest", symbol=trade.symbol, **fields)
            self.orders.append(await self.ctx.submit(request))

    async def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


async def run_script(bars: Bars, script: dict, settings: BacktestSettings) -> tuple[Backtester, Scripted]:
    Scripted.script = script
    tester = Backtester(bars, settings)
    strategy = Scripted()
    tester.strategies.add(strategy, venue="backtest", symbols=[bars.symbol], timeframe=bars.timeframe)
    await tester.run()
    return tester, strategy


def test_event_path_trades_like_the_vectorised_path() -> None:
    bars = load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(0, 2500)
    settings = BacktestSettings(cash=50_000.0, fee=0.00075)
    params = {"fast": 12, "slow": 40}
    event = backtest(SmaCross, bars, params, settings)
    fast = run_fast(SmaCross, bars, params, settings)
    assert [(t.entry_bar, t.exit_bar, t.side) for t in event.trades] == [
        (t.entry_bar, t.exit_bar, t.side) for t in fast.trades
    ]
    assert len(event.trades) > 20
    assert event.metrics.final_equity == pytest.approx(fast.metrics.final_equity, rel=1e-9)
    assert event.metrics.fees == pytest.approx(fast.metrics.fees, rel=1e-9)
    assert np.allclose(event.equity, fast.equity, rtol=1e-9)


async def test_market_orders_fill_at_the_replayed_price_with_the_fee() -> None:
    bars = flat_bars([(100, 110, 90, 105), (105, 106, 104, 105)])
    tester, strategy = await run_script(
        bars, {(0, 0): [{"side": Side.BUY, "type": OrderType.MARKET, "size": Decimal("2")}]},
        BacktestSettings(cash=1000.0, fee=0.001),
    )
    (fill,) = strategy.fills
    assert fill.price == Decimal(100) and fill.size == Decimal(2) and fill.fee == Decimal("0.2")
    assert strategy.orders[0].status is OrderStatus.FILLED
    assert tester.equity() == Decimal(1000) - Decimal("0.2") + 2 * (Decimal(105) - 100)


async def test_finite_depth_gives_slippage_and_a_partial_fill() -> None:
    bars = flat_bars([(100, 100, 100, 100)])
    depth = Slippage(levels=2, step_bps=100, level_notional=100.0)  # 1 unit at 100, ~0.99 at 101
    tester, strategy = await run_script(
        bars, {(0, 0): [{"side": Side.BUY, "type": OrderType.MARKET, "size": Decimal("3")}]},
        BacktestSettings(cash=1000.0, fee=0.0, lot_size=0.01, slippage=depth),
    )
    prices = [f.price for f in strategy.fills]
    assert prices == [Decimal(100), Decimal(101)]
    order = strategy.orders[0]
    assert order.status is OrderStatus.CANCELED and Decimal(0) < order.filled_size < Decimal(3)
    assert order.avg_price is not None and order.avg_price > Decimal(100)


async def test_latency_delays_the_order_to_a_later_price() -> None:
    bars = flat_bars([(100, 120, 90, 110)])  # bullish: open, low, high, close
    tester, strategy = await run_script(
        bars, {(0, 0): [{"side": Side.SELL, "type": OrderType.MARKET, "size": Decimal("1")}]},
        BacktestSettings(cash=1000.0, fee=0.0, latency_ms=H // 3),
    )
    assert [f.price for f in strategy.fills] == [Decimal(90)]  # the low, the second replayed price


async def test_resting_limit_and_stop_orders() -> None:
    bars = flat_bars([(100, 101, 99, 100), (100, 100, 94, 95), (95, 99, 95, 98)])
    script = {(0, 0): [
        {"side": Side.BUY, "type": OrderType.LIMIT, "size": Decimal("1"), "price": Decimal("96")},
        {"side": Side.SELL, "type": OrderType.STOP_MARKET, "size": Decimal("1"), "trigger_price": Decimal("97")},
    ]}
    tester, strategy = await run_script(bars, script, BacktestSettings(cash=1000.0, fee=0.001))
    limit_fill, stop_fill = sorted(strategy.fills, key=lambda f: f.side is Side.SELL)
    assert limit_fill.price == Decimal(96) and limit_fill.liquidity.value == "maker"
    # the price gapped from 100 to 94 through the stop at 97: it fills at the bid under 94
    assert stop_fill.side is Side.SELL and stop_fill.price == Decimal("93.99")
    assert all(o.status is OrderStatus.FILLED for o in strategy.orders)
    (trade,) = tester.trades
    assert trade.side == "long" and trade.entry_price == 96 and trade.exit_price == pytest.approx(93.99)
    assert trade.pnl == pytest.approx(93.99 - 96 - 0.001 * (96 + 93.99))


async def test_refused_orders_are_counted_not_raised() -> None:
    bars = flat_bars([(100, 101, 99, 100)])
    tester, strategy = await run_script(
        bars, {(0, 0): [{"side": Side.BUY, "type": OrderType.LIMIT, "size": Decimal("1"), "price": Decimal("99.123456789")}]},
        BacktestSettings(cash=1000.0),
    )
    info = tester.strategies.list_strategies()[0]
    assert strategy.orders == [None] and info.orders_refused == 1
    assert info.state == "stopped" and info.last_error is None


async def test_attached_stops_are_refused_not_ignored() -> None:
    bars = flat_bars([(100, 101, 99, 100)])
    tester, strategy = await run_script(
        bars, {(0, 0): [{"side": Side.BUY, "type": OrderType.MARKET, "size": Decimal("1"), "stop_loss": Decimal("90")}]},
        BacktestSettings(cash=1000.0),
    )
    assert strategy.orders == [None] and strategy.fills == []
    with pytest.raises(OrderRefused, match="send them as separate stop_market / take_profit orders"):
        await tester.submit(OrderRequest(venue="backtest", symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET,
                                         size=Decimal(1), take_profit=Decimal(120)))


async def test_backtest_async_reports_progress() -> None:
    bars = load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(0, 1500)
    seen: list[tuple[int, int]] = []
    result = await backtest_async(SmaCross, bars, {"fast": 5, "slow": 20}, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1] == (1500, 1500) and result.engine == "event" and result.metrics.trades > 0


def test_symbols_must_share_the_account_currency() -> None:
    bars = [flat_bars([(100, 101, 99, 100)], "BTC/USDT"), flat_bars([(0.05, 0.051, 0.049, 0.05)], "ETH/BTC")]
    with pytest.raises(DataError, match="share one quote currency \\(got BTC, USDT\\)"):
        Backtester(bars)
