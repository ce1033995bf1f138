"""`opentrade agents analyze`: one decision of the agent team, with every agent's opinion;
`opentrade agents forecast`: (re)train the forecast model and show its held-out report and path.

Candles come from a file (--data: CSV with timestamp,open,high,low,close,volume or ccxt OHLCV
JSON) or, without it, from the candles stored in the database for the configured venue. The
analysis is "as of" the last candle: data ages and the forecast are measured from there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.symbols import symbol_problem

if TYPE_CHECKING:  # the agents and the candle data (pandas, numpy, aiohttp) load in the handlers
    from agents.coordinator import Decision
    from core.backtest.data import Bars
    from core.config import AppConfig
    from core.storage.target import StorageTarget

from cli.main import CommandContext


class UsageProblem(Exception):
    """Bad input, worded for the person at the keyboard (exit code 2)."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("agents", help="run the analysis agents")
    actions = parser.add_subparsers(dest="agents_action", metavar="ACTION", required=True)
    analyze = actions.add_parser("analyze", help="one decision for a symbol, with every agent's opinion")
    analyze.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
    analyze.add_argument("--data", type=Path,
                         help="candles: CSV (timestamp,open,high,low,close,volume) or ccxt OHLCV JSON")
    analyze.add_argument("--timeframe",
                         help="timeframe of the candles, e.g. 1h (default: inferred from --data, else the config's first)")
    analyze.add_argument("--equity", default="10000",
                         help="account equity the Risk agent sizes against (default 10000)")
    analyze.add_argument("--json", action="store_true", help="print the decision as JSON")
    analyze.set_defaults(handler=handle_analyze)
    forecast = actions.add_parser("forecast", help="train the forecast model on the history, report and predict")
    forecast.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
    forecast.add_argument("--data", type=Path, help="candles, as for analyze (default: the stored candles)")
    forecast.add_argument("--timeframe", help="timeframe of the candles (default: inferred, else the config's first)")
    forecast.add_argument("--horizon", type=int, help="candles ahead (default: the config's forecast_horizon)")
    forecast.add_argument("--json", action="store_true", help="print the report and the path as JSON")
    forecast.set_defaults(handler=handle_forecast)


def handle_analyze(args: argparse.Namespace, ctx: CommandContext) -> int:
    try:
        config = ctx.load_config()
        symbol = _check_symbol(args.symbol)
        equity = _check_equity(args.equity)
        bars = _bars(args, ctx, config, symbol)
        decision = asyncio.run(_analyze(config, symbol, bars, equity))
    except UsageProblem as exc:
        print(f"opentrade agents analyze: {exc}", file=sys.stderr)
        return 2
    as_of = int(bars.ts[-1]) + bars.step_ms
    if args.json:
        print(json.dumps(decision.to_dict() | {"as_of_ms": as_of}, indent=2))
    else:
        _print_table(decision, bars, as_of)
    return 0


def handle_forecast(args: argparse.Namespace, ctx: CommandContext) -> int:
    from agents.base import Candles
    from agents.forecast_model import ForecastUnavailable
    from agents.team import build_forecast_agent

    try:
        config = ctx.load_config()
        symbol = _check_symbol(args.symbol)
        if args.horizon is not None and not 1 <= args.horizon <= 500:
            raise UsageProblem(f"--horizon: must be between 1 and 500 candles (got {args.horizon})")
        bars = _bars(args, ctx, config, symbol)
        agents_config = config.agents.model_copy(update={"forecast_horizon": args.horizon or config.agents.forecast_horizon})
        agent = build_forecast_agent(agents_config)
        try:
            forecast = agent.predict(symbol, bars.timeframe, Candles.coerce(bars))
        except ForecastUnavailable as exc:
            raise UsageProblem(str(exc)) from None
    except UsageProblem as exc:
        print(f"opentrade agents forecast: {exc}", file=sys.stderr)
        return 2
    report = agent.reports[(symbol, bars.timeframe)]
    step = bars.step_ms
    path = [
        {"ts": int(bars.ts[-1]) + step * (k + 1), "close": float(forecast.path[k]),
         "lower": float(forecast.lower[k]), "upper": float(forecast.upper[k])}
        for k in range(forecast.horizon)
    ]
    if args.json:
        print(json.dumps({"symbol": symbol, "timeframe": bars.timeframe, "model": forecast.model,
                          "last_close": forecast.last_close, "report": report.to_dict(), "path": path,
                          "note": agent.note}, indent=2))
        return 0
    print(f"{forecast.model} model on {len(bars)} {bars.timeframe} candles of {symbol}"
          + (f" ({agent.note})" if agent.note else ""))
    if report.directional_accuracy is None:
        print(f"  skill not measured: {report.note}")
    else:
        print(f"  held-out tail: {report.n_test} candles after {report.n_train} training ones")
        print(f"  direction {report.horizon} candles ahead right {report.directional_accuracy:.1%} of the time; "
              f"always guessing the training majority: {report.baseline_accuracy or 0:.1%}")
        print(f"  80% interval held the outcome {report.interval_coverage or 0:.1%} of the time")
    print(f"  last close {forecast.last_close:.6g}; expected after {forecast.horizon} candles "
          f"{forecast.target_price:.6g} (80%: {forecast.lower[-1]:.6g} .. {forecast.upper[-1]:.6g})")
    return 0


def _bars(args: argparse.Namespace, ctx: CommandContext, config: AppConfig, symbol: str) -> Bars:
    if args.timeframe is not None:
        _check_timeframe(args.timeframe)
    if args.data:
        return _bars_from_file(args.data, symbol, args.timeframe)
    return _bars_from_database(config, ctx, symbol, args.timeframe or config.agents.timeframes[0])


def _check_symbol(symbol: str) -> str:
    problem = symbol_problem(symbol)
    if problem:
        raise UsageProblem(f"--symbol: {problem}")
    return symbol.upper()


def _check_equity(text: str) -> Decimal:
    try:
        equity = Decimal(text)
    except InvalidOperation:
        raise UsageProblem(f"--equity: '{text}' is not a number") from None
    if not equity.is_finite() or equity <= 0:
        raise UsageProblem(f"--equity: must be greater than 0 (got {text})")
    return equity


def _check_timeframe(timeframe: str) -> None:
    from core.backtest.data import DataError, timeframe_ms

    try:
        timeframe_ms(timeframe)
    except DataError as exc:
        raise UsageProblem(f"--timeframe: {exc}") from None


def _bars_from_file(path: Path, symbol: str, timeframe: str | None) -> Bars:
    from core.backtest.data import DataError, load_bars

    try:
        return load_bars(path, symbol=symbol, timeframe=timeframe, allow_gaps=True)
    except DataError as exc:
        raise UsageProblem(str(exc)) from None


def _bars_from_database(config: AppConfig, ctx: CommandContext, symbol: str, timeframe: str) -> Bars:
    from core.backtest.data import DataError, bars_from_candles

    _check_timeframe(timeframe)
    venue = config.default_venue
    known = _venue_symbols(config, venue)
    if known and symbol not in known:
        raise UsageProblem(f"unknown symbol {symbol} on venue '{venue}' (configured: {', '.join(known)})")
    storage = ctx.storage(config)
    if not storage.exists():
        raise UsageProblem(f"no --data given and no database at {storage}: pass --data PATH with candles to analyse")
    candles = asyncio.run(_load_candles(storage, venue, symbol, timeframe))
    if not candles:
        raise UsageProblem(
            f"no stored {timeframe} candles for {symbol} on '{venue}': pass --data PATH with candles to analyse"
        )
    try:
        return bars_from_candles(symbol, timeframe, candles, allow_gaps=True)
    except DataError as exc:
        raise UsageProblem(f"stored candles for {symbol}: {exc}") from None


def _venue_symbols(config: AppConfig, venue: str) -> list[str]:
    venue_config = config.venues[venue]
    return [m.symbol if hasattr(m, "symbol") else str(m) for m in venue_config.markets]


async def _load_candles(storage: StorageTarget, venue: str, symbol: str, timeframe: str) -> list[Any]:
    db = await storage.open()
    try:
        return await db.load_candles(venue, symbol, timeframe)
    finally:
        await db.close()


async def _analyze(config: AppConfig, symbol: str, bars: Bars, equity: Decimal) -> Decision:
    from agents.base import AnalysisContext
    from agents.team import build_coordinator
    from core.clock import WallClock

    coordinator = build_coordinator(config.agents, WallClock())
    context = AnalysisContext(
        symbol=symbol,
        now_ms=int(bars.ts[-1]) + bars.step_ms,
        candles={bars.timeframe: bars},
        equity=equity,
        risk=config.risk_management,
    )
    return await coordinator.decide(context)


def _print_table(decision: Decision, bars: Bars, as_of: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from core.backtest.data import format_ts

    console = Console()
    table = Table(title=f"{decision.symbol} {bars.timeframe}, {len(bars)} candles, as of {format_ts(as_of)}")
    for column in ("agent", "view", "strength", "confidence", "weight", "rationale"):
        table.add_column(column, overflow="fold")
    for o in decision.opinions:
        view = o.direction.value if o.has_data else "no data"
        table.add_row(o.agent, view, f"{o.strength:.2f}", f"{o.confidence:.2f}",
                      f"{decision.weights.get(o.agent, 0.0):.2f}", o.rationale)
    console.print(table)
    s = decision.signal
    levels = ", ".join(
        f"{name} {value:.6g}" for name, value in
        (("target", s.target_price), ("stop", s.stop_loss), ("take profit", s.take_profit)) if value is not None
    )
    console.print(f"signal: [bold]{s.direction.value.upper()}[/] strength {s.strength:.2f} "
                  f"confidence {s.confidence:.2f}" + (f"; {levels}" if levels else ""))
    console.print(f"fusion: {decision.rationale}")
    verdict = decision.verdict.to_dict()
    console.print(f"risk: {verdict['action']}" + (f" ({'; '.join(verdict['reasons'])})" if verdict["reasons"] else ""))
