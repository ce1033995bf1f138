"""Small candle series for strategy behaviour tests."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from core.backtest.data import Bars, bars_from_arrays
from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.clock import SimClock
from core.events import EventBus
from core.models import ContractType, Instrument, Order, OrderRequest, Signal
from core.strategies.base import Strategy

H = 3_600_000


def bars_from_closes(closes: Sequence[float], symbol: str = "BTC/USDT", spread: float = 0.5) -> Bars:
    """Each candle opens at the previous close and moves straight to its own close."""
    rows = []
    previous = closes[0]
    for close in closes:
        low, high = min(previous, close) - spread, max(previous, close) + spread
        rows.append((previous, high, low, close, 1.0))
        previous = close
    return bars_from_arrays(symbol, "1h", [k * H for k in range(len(closes))], rows)


async def run_strategy(
    strategy: Strategy, bars: Bars | Sequence[Bars], settings: BacktestSettings | None = None, signals: Sequence[Signal] = ()
) -> Backtester:
    """Replay ``bars`` through the backtester with one strategy attached; returns the backtester."""
    series = [bars] if isinstance(bars, Bars) else list(bars)
    tester = Backtester(series, settings or BacktestSettings(cash=10_000.0, fee=0.001), signals=signals)
    tester.strategies.add(strategy, venue="backtest", symbols=[b.symbol for b in series], timeframe=series[0].timeframe)
    await tester.run()
    return tester


class FakeHost:
    """A StrategyHost that records requests and fills nothing: for the StrategyEngine alone. The
    orders it accepted stay working until canceled, as at a venue; a symbol with a settlement
    currency (BTC/USDT:USDT) is a perpetual, any other a spot market."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.bus = EventBus()
        self.sent: list[OrderRequest] = []
        self.canceled: list[str] = []
        self.working: dict[str, Order] = {}

    async def submit(self, request: OrderRequest) -> Order:
        self.sent.append(request)
        order = self.working[request.client_order_id] = Order.from_request(request, self.clock.now_ms())
        return order

    async def cancel(self, client_order_id: str) -> None:
        self.canceled.append(client_order_id)
        self.working.pop(client_order_id, None)

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return [o for o in self.working.values() if venue in (None, o.venue) and symbol in (None, o.symbol)]

    def position(self, venue: str, symbol: str) -> None:
        return None

    def equity(self) -> Decimal:
        return Decimal(10_000)

    def funding_rate(self, venue: str, symbol: str) -> None:
        return None

    def instrument(self, venue: str, symbol: str) -> Instrument:
        base, quote = symbol.split(":")[0].split("/")
        kind = ContractType.LINEAR_PERPETUAL if ":" in symbol else ContractType.SPOT
        return Instrument(venue=venue, symbol=symbol, base=base, quote=quote, contract_type=kind,
                          tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))
