"""Risk and accounting on the hot path: one pre-trade check, one mark update, one fill.

Every order passes the gate's risk limits (``PreTradeGate.limits``) and every ticker calls ``update_mark``, so both must stay
far below the time a venue takes to answer. The book here is a busy account: 10 open positions
(spot and perpetual) and 50 working orders.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.clock import SimClock  # noqa: E402
from core.config import RiskConfig, TradingConfig  # noqa: E402
from core.events import EventBus  # noqa: E402
from core.models import Balance, ContractType, Fill, Instrument, Order, OrderRequest, Side  # noqa: E402
from core.portfolio import Portfolio  # noqa: E402
from core.risk import RiskManager  # noqa: E402
from core.risk.gate import PreTradeGate  # noqa: E402

POSITIONS = 10
WORKING_ORDERS = 50


def emit(metric: str, value: float, unit: str, target: float) -> None:
    print(json.dumps({"bench": "risk", "metric": metric, "value": round(value, 3), "unit": unit, "target": target}))


def instruments() -> list[Instrument]:
    made = []
    for i in range(POSITIONS):
        perpetual = i % 2 == 1
        made.append(Instrument(
            venue="paper", symbol=f"C{i}/USDT" + (":USDT" if perpetual else ""), base=f"C{i}", quote="USDT",
            contract_type=ContractType.LINEAR_PERPETUAL if perpetual else ContractType.SPOT,
            tick_size=Decimal("0.01"), lot_size=Decimal("0.001"), max_leverage=10,
        ))
    return made


def setup() -> tuple[Portfolio, RiskManager, list[Instrument], list[Order]]:
    clock = SimClock()
    portfolio = Portfolio(clock)
    portfolio.set_balances("paper", [Balance(asset="USDT", free=Decimal(1_000_000))])
    markets = instruments()
    for n, instrument in enumerate(markets):
        portfolio.register_instrument(instrument)
        portfolio.apply_fill(Fill(fill_id=f"f{n}", client_order_id=f"c{n}", venue="paper", symbol=instrument.symbol,
                                  side=Side.BUY, size=Decimal(1), price=Decimal(100 + n)))
    risk = RiskManager(
        RiskConfig(max_open_positions=20, max_position_pct=0.5, max_symbol_exposure_pct=1, max_total_exposure_pct=5,
                   max_position_size=Decimal(10**6), max_daily_loss=Decimal(10**6)),
        TradingConfig(),
        portfolio, EventBus(), clock,
    )
    orders = [
        Order.from_request(OrderRequest(venue="paper", symbol=markets[n % POSITIONS].symbol, side=Side.BUY,
                                        size=Decimal("0.5"), price=Decimal(99 + n % POSITIONS)), ts=0)
        for n in range(WORKING_ORDERS)
    ]
    return portfolio, risk, markets, orders


def per_call_us(fn: Callable[[int], object], calls: int) -> float:
    started = time.perf_counter()
    for n in range(calls):
        fn(n)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (under 30 s)")
    calls = 2_000 if parser.parse_args().quick else 20_000
    portfolio, risk, markets, orders = setup()
    gate = PreTradeGate(risk)
    request = OrderRequest(venue="paper", symbol=markets[0].symbol, side=Side.BUY, size=Decimal("0.1"),
                           price=Decimal(100))

    def check(_: int) -> object:
        verdict = gate.limits(request, markets[0], Decimal(100), orders)
        assert verdict.approved, verdict.reason
        return verdict

    def mark(n: int) -> None:
        portfolio.update_mark("paper", markets[n % POSITIONS].symbol, Decimal(100 + n % 7))

    def fill(n: int) -> object:
        instrument = markets[n % POSITIONS]
        return portfolio.apply_fill(Fill(fill_id=f"b{n}", client_order_id="b", venue="paper", symbol=instrument.symbol,
                                         side=Side.BUY if n % 2 else Side.SELL, size=Decimal("0.01"),
                                         price=Decimal(100)))

    emit("gate_limits", per_call_us(check, calls), "us/call", 200)
    emit("update_mark", per_call_us(mark, calls), "us/call", 50)
    emit("apply_fill", per_call_us(fill, calls), "us/call", 100)
    emit("monitor_positions", per_call_us(lambda _: risk.monitor_positions(), max(calls // 10, 100)), "us/call", 1000)


if __name__ == "__main__":
    main()
