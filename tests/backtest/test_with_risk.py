"""`--with-risk`: a backtest's orders pass the live pre-trade gate, and the result counts what it refused."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.config import AppConfig, RiskConfig
from core.executor import OrderRefused
from core.models import OrderType, Side
from tests.backtest.test_cli import CANDLES, run
from tests.backtest.test_engine import Scripted, flat_bars

WIDE = dict(max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10, max_order_loss=D(10**6),
            max_daily_loss_pct=1, emergency_stop_loss=1)


def limits(**risk: object) -> AppConfig:
    return AppConfig(risk_management=RiskConfig(**{**WIDE, **risk}), strategies={})  # type: ignore[arg-type]


async def run_with(config: AppConfig | None, bars_rows: list[tuple[float, float, float, float]],
                   script: dict) -> tuple[Backtester, Scripted]:
    Scripted.script = script
    bars = flat_bars(bars_rows)
    tester = Backtester(bars, BacktestSettings(cash=10_000.0, fee=0.0), risk=config)
    strategy = Scripted()
    tester.strategies.add(strategy, venue="backtest", symbols=[bars.symbol], timeframe=bars.timeframe)
    await tester.run()
    return tester, strategy


def buy(size: str) -> dict:
    return {"side": Side.BUY, "type": OrderType.MARKET, "size": D(size)}


async def test_the_position_limit_refuses_in_a_backtest_as_it_does_live() -> None:
    script = {(0, 0): [buy("5")], (1, 0): [buy("10")]}
    rows = [(100, 100, 100, 100)] * 3
    free, _ = await run_with(None, rows, script)
    assert free.position_size("BTC/USDT") == 15, "without the gate both orders fill, as before"

    gated, strategy = await run_with(limits(max_position_size=D(1000)), rows, script)
    assert gated.position_size("BTC/USDT") == 5
    assert strategy.orders[1] is None, "the strategy is told its order was refused"
    assert gated.risk is not None
    summary = gated.risk.summary()
    assert summary["refused"] == 1
    [(rule, entry)] = summary["by_rule"].items()
    assert rule == "max_position_size" and entry["count"] == 1
    assert "the largest position allowed is 1,000.00 USDT" in entry["first_reason"]


async def test_a_spot_sell_past_the_holdings_is_checked_as_the_short_it_opens() -> None:
    """The backtester's account lends, so selling 15 of the 5 held opens a short of 10: the
    gate checks it against the position limit as it would a new position, while a sale of
    what is held still only reduces."""
    sell = {"side": Side.SELL, "type": OrderType.MARKET, "size": D("15")}
    script = {(0, 0): [buy("5")], (1, 0): [sell], (2, 0): [{**sell, "size": D("5")}]}
    rows = [(100, 100, 100, 100)] * 4
    free, _ = await run_with(None, rows, script)
    assert free.position_size("BTC/USDT") == -15, "without the gate the sells go short"

    gated, strategy = await run_with(limits(max_position_size=D(700)), rows, script)
    assert strategy.orders[1] is None, "a short of 10 at 100 is past the 700 USDT limit"
    assert gated.position_size("BTC/USDT") == 0, "the sale of the 5 held passed"
    assert gated.risk is not None
    assert gated.risk.summary()["by_rule"]["max_position_size"]["count"] == 1


async def test_a_tripped_breaker_stops_new_exposure_but_lets_the_exit_through() -> None:
    """A loss past the daily limit trips the breaker at the candle's close (the engine's monitor);
    the next buy is refused, the sell that closes the position passes."""
    sell = {"side": Side.SELL, "type": OrderType.MARKET, "size": D("50")}
    script = {(0, 0): [buy("50")], (2, 0): [buy("1")], (2, 1): [sell]}
    rows = [(100, 100, 100, 100), (80, 80, 80, 80), (80, 80, 80, 80), (80, 80, 80, 80)]
    tester, strategy = await run_with(limits(max_position_size=D(10**6), max_daily_loss=D(500)), rows, script)
    assert tester.position_size("BTC/USDT") == 0, "the exit was not locked in"
    assert tester.risk is not None
    summary = tester.risk.summary()
    assert summary["by_rule"]["breaker"]["count"] == 1 and summary["refused"] == 1
    assert "daily_loss" in summary["breakers_tripped"] and summary["final_state"] == "halted"
    assert [f.side for f in strategy.fills] == [Side.BUY, Side.SELL]


async def test_the_gate_validates_against_the_instrument() -> None:
    Scripted.script = {}
    tester = Backtester(flat_bars([(100, 100, 100, 100)]), BacktestSettings(lot_size=0.1), risk=limits())
    from core.models import OrderRequest

    with pytest.raises(OrderRefused) as refused:
        await tester.submit(OrderRequest(venue="backtest", symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET,
                                         size=D("0.15")))
    assert refused.value.rule == "validation"


def test_cli_reports_the_refusals_and_refuses_the_fast_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "backtest", "--strategy", "sma_cross", "--data", CANDLES, "--with-risk", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["engine"] == "event" and result["risk"]["refused"] > 0
    assert sum(entry["count"] for entry in result["risk"]["by_rule"].values()) == result["risk"]["refused"]
    code, _, err = run(capsys, "backtest", "--strategy", "sma_cross", "--data", CANDLES, "--with-risk",
                       "--engine", "fast")
    assert code == 2 and "--with-risk runs the orders through the pre-trade gate" in err
