"""`opentrade backtest`, `opentrade optimize` and `opentrade evolve`.

--strategy names a configured strategy (its kind and parameters from the configuration, the
newest stored version's parameters when there is one) or a strategy kind (its defaults);
--param name=value overrides. Candles come from --data files (CSV or ccxt OHLCV JSON; one per
--symbol, in the same order), or are built from a trades CSV (timestamp, price, amount, side),
whose trades the event engine then replays one by one; without --data, from the database. A progress bar goes to
standard error when it is a terminal, the report to standard output (one JSON object with --json). optimize and
evolve run their backtests in this process, a process pool (--workers) or on a Dask cluster (--cluster). Bad input is a
one-line message on standard error and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.backtest.objectives import OBJECTIVES
from core.config import ConfigError
from core.symbols import symbol_problem

if TYPE_CHECKING:  # the backtester, its data and the strategies (numpy) load in the handlers
    from core.backtest.data import Bars, Tape
    from core.backtest.result import BacktestResult, BacktestSettings
    from core.config import AppConfig, StrategyConfig
    from core.models import FundingRate
    from core.storage.target import StorageTarget
    from core.strategies.base import Strategy

from cli.main import CommandContext, writes_home

if TYPE_CHECKING:
    from core.backtest.cluster import DaskCluster


CLUSTER_HELP = ("run the backtests on a Dask cluster: a scheduler address (tcp://host:8786) or local[:N] "
                "(N worker processes here, default 2); needs the 'cluster' extra")


class UsageProblem(Exception):
    """Bad input, worded for the person at the keyboard (exit code 2)."""


def register(sub: argparse._SubParsersAction) -> None:
    backtest = sub.add_parser("backtest", help="backtest a strategy on candles")
    _common(backtest)
    backtest.add_argument("--engine", choices=["auto", "fast", "event"], default="auto",
                          help="fast: vectorised; event: through the matching engine (default: fast when the strategy has it)")
    backtest.add_argument("--latency-ms", type=int, default=0, help="order latency in the event engine")
    backtest.add_argument("--spread-bps", type=float, default=0.0, help="half-spread of the synthetic book (event engine)")
    backtest.add_argument("--depth", type=float, default=0.0,
                          help="quote currency per synthetic book level, 0 = unlimited (event engine)")
    backtest.add_argument("--signals", type=Path, help="JSON list of agent signals to replay (ai_trend_following)")
    backtest.add_argument("--export", type=Path, help="write the trades and equity curve (.csv) or everything (.json)")
    backtest.add_argument("--save", action="store_true", help="keep the result in the database (last result per strategy)")
    backtest.add_argument("--with-risk", action="store_true",
                          help="pass every order through the live pre-trade gate (risk_management, circuit_breakers, "
                               "surveillance, dynamic_risk of the configuration; event engine) and report its refusals")
    backtest.set_defaults(handler=handle_backtest)

    opt = sub.add_parser("optimize", help="search a strategy's parameters (grid or genetic, walk-forward)")
    _common(opt)
    opt.add_argument("--method", choices=["genetic", "grid"], default="genetic")
    opt.add_argument("--objective", choices=OBJECTIVES, default="sharpe", help="metric to maximise")
    opt.add_argument("--population", type=int, default=20)
    opt.add_argument("--generations", type=int, default=10)
    opt.add_argument("--grid-points", type=int, default=5, help="values per parameter in a grid search")
    opt.add_argument("--folds", type=int, default=0, help="walk-forward windows (0: search all candles once)")
    opt.add_argument("--train-fraction", type=float, default=0.7, help="in-sample share of each window")
    opt.add_argument("--only", help="comma-separated parameters to search (default: all searchable)")
    opt.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    opt.add_argument("--cluster", metavar="ADDRESS", help=CLUSTER_HELP)
    opt.add_argument("--seed", type=int, default=42)
    opt.add_argument("--save-version", action="store_true",
                     help="store the best parameters as a new version of the configured strategy")
    opt.set_defaults(handler=handle_optimize)

    evolve = sub.add_parser("evolve", help="the daily review: mutate, backtest, keep the winner as a new version")
    _common(evolve)
    evolve.add_argument("--population", type=int, default=16)
    evolve.add_argument("--generations", type=int, default=6)
    evolve.add_argument("--objective", choices=OBJECTIVES, default="sharpe")
    evolve.add_argument("--holdout", type=float, default=0.3, help="newest share of candles kept for the check")
    evolve.add_argument("--min-improvement", type=float, default=0.0, help="how much better a winner must score")
    evolve.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    evolve.add_argument("--cluster", metavar="ADDRESS", help=CLUSTER_HELP)
    evolve.add_argument("--seed", type=int, default=42)
    evolve.add_argument("--dry-run", action="store_true", help="review but save no new version")
    evolve.set_defaults(handler=handle_evolve)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", required=True, help="configured strategy id or strategy kind (e.g. sma_cross)")
    parser.add_argument("--symbol", action="append", help="symbol, e.g. BTC/USDT (repeat for two-leg strategies)")
    parser.add_argument("--timeframe", help="e.g. 1h (default: inferred from --data, else the strategy's)")
    parser.add_argument("--data", type=Path, action="append", help="candles file, one per --symbol")
    parser.add_argument("--allow-gaps", action="store_true", help="backtest across missing candles instead of refusing")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    parser.add_argument("--fee", type=float, default=0.001, help="commission per side, fraction of notional (0.001 = 0.1%%)")
    parser.add_argument("--cash", type=float, default=10_000.0, help="starting equity in the quote currency")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


# ----- shared steps --------------------------------------------------------------------------------


def guarded(run: Callable[[argparse.Namespace, CommandContext], int]) -> Callable[[argparse.Namespace, CommandContext], int]:
    """Bad input becomes one line on standard error and exit code 2, never a traceback."""

    def handler(args: argparse.Namespace, ctx: CommandContext) -> int:
        from core.backtest.data import DataError
        from core.strategies.base import ParameterError

        # the core logs strategy failures with tracebacks for the app's log file; here they
        # come back as the command's own message instead of landing on the terminal
        if not logging.getLogger().handlers:
            logging.getLogger("core").addHandler(logging.NullHandler())
        try:
            return run(args, ctx)
        except ConfigError:
            raise
        except Exception as exc:
            if not isinstance(exc, (UsageProblem, DataError, ParameterError, ValueError, OSError)) and not _worded(exc):
                raise
            print(f"{args.command}: {exc}", file=sys.stderr)
            return 2

    return handler


def _worded(exc: Exception) -> bool:
    """A strategy's failure in the event engine, or a cluster's: their modules are imported
    here and where they run, since a fast backtest never loads them (~130 ms of its start)."""
    from core.backtest.cluster import ClusterError
    from core.backtest.engine import StrategyFailed

    return isinstance(exc, (StrategyFailed, ClusterError))


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageProblem(f"--param expects NAME=VALUE, got '{pair}'")
        params[name.strip()] = value.strip()
    return params


class Target:
    """What the command works on: the strategy class, its parameters, where its candles are."""

    def __init__(self, args: argparse.Namespace, config: AppConfig, versions: list[dict[str, Any]]) -> None:
        from core.strategies.registry import effective_params, resolve

        self.strategy_id = args.strategy
        self.cls, configured, self.config = resolve(args.strategy, config.strategies)
        base = effective_params(configured, versions)
        self.params = self.cls.validate_params({**base, **parse_params(args.param)})
        self.venue = self.config.venue if self.config else config.default_venue
        self.symbols: list[str] = args.symbol or (list(self.config.symbols) if self.config else ["BTC/USDT"])
        for symbol in args.symbol or []:
            problem = symbol_problem(symbol)
            if problem:
                raise UsageProblem(f"--symbol: {problem}")
        self.timeframe: str | None = args.timeframe or (self.config.timeframe if self.config and not args.data else None)


def load_series(args: argparse.Namespace, ctx: CommandContext, target: Target) -> tuple[list[Bars], dict[str, Tape]]:
    """The candles of each symbol, and the recorded trades of those given as trade files."""
    from core.backtest.data import bars_from_candles, bars_from_trades, is_trades_file, load_bars, load_trades, timeframe_ms

    if args.timeframe:
        timeframe_ms(args.timeframe)
    if args.data:
        if len(args.data) != len(target.symbols):
            raise UsageProblem(f"give one --data file per symbol ({len(target.symbols)} symbol(s): {', '.join(target.symbols)})")
        series, tapes = [], {}
        for path, symbol in zip(args.data, target.symbols, strict=True):
            if is_trades_file(path):
                tapes[symbol] = load_trades(path, symbol=symbol)
                series.append(bars_from_trades(tapes[symbol], args.timeframe or "1m", allow_gaps=args.allow_gaps))
            else:
                series.append(load_bars(path, symbol=symbol, timeframe=args.timeframe, allow_gaps=args.allow_gaps,
                                        cache_dir=ctx.home / "cache" / "candles"))
        return series, tapes
    storage = ctx.storage(ctx.load_config())
    if not storage.exists():
        raise UsageProblem(f"no --data given and no database at {storage} to read candles from")
    timeframe = target.timeframe or "1h"
    return [bars_from_candles(symbol, timeframe, asyncio.run(_stored_candles(storage, target.venue, symbol, timeframe)),
                              allow_gaps=args.allow_gaps) for symbol in target.symbols], {}


async def _stored_candles(storage: StorageTarget, venue: str, symbol: str, timeframe: str) -> list[Any]:
    async with await storage.open() as db:
        candles = await db.load_candles(venue, symbol, timeframe)
    if not candles:
        raise UsageProblem(f"the database has no {timeframe} candles of {symbol} on {venue}; pass --data")
    return candles


async def _versions(ctx: CommandContext, strategy_id: str) -> list[dict[str, Any]]:
    storage = ctx.storage(ctx.load_config())
    if not storage.exists():
        return []
    async with await storage.open() as db:
        return await db.strategy_versions(strategy_id)


def settings_from(args: argparse.Namespace) -> BacktestSettings:
    from core.backtest.result import BacktestSettings, Slippage

    settings = BacktestSettings(
        cash=args.cash, fee=args.fee, latency_ms=getattr(args, "latency_ms", 0),
        slippage=Slippage(half_spread_bps=getattr(args, "spread_bps", 0.0), levels=5 if getattr(args, "depth", 0.0) else 1,
                          level_notional=getattr(args, "depth", 0.0)),
    )
    problems = settings.problems()
    if problems:
        raise UsageProblem("; ".join(problems))
    return settings


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _table(title: str, rows: list[tuple[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, _fmt(value))
    Console().print(table)


# ----- backtest ------------------------------------------------------------------------------------


@guarded
@writes_home(lambda args: args.save)
def handle_backtest(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.backtest.metrics import buy_and_hold_return
    from core.backtest.result import Slippage

    config = ctx.load_config()
    target = Target(args, config, asyncio.run(_versions(ctx, args.strategy)))
    series, tapes = load_series(args, ctx, target)
    settings = settings_from(args)
    signals = _signals(args.signals) if args.signals else []
    if target.cls.needs_signals and not signals:
        raise UsageProblem(f"strategy '{target.cls.name}' trades on agent signals: pass --signals FILE (a JSON list of signals)")
    funding = _stored_funding(ctx, target.venue, series) if args.engine != "fast" else {}
    engine = args.engine
    if engine == "auto":
        simple = (settings.latency_ms == 0 and settings.slippage == Slippage() and not signals and not tapes
                  and not funding and len(series) == 1 and not args.with_risk)
        engine = "fast" if target.cls.vectorised and simple else "event"
    if engine == "fast" and args.with_risk:
        raise UsageProblem("--with-risk runs the orders through the pre-trade gate, which only the event engine has: "
                           "use --engine event")
    if engine == "fast" and not target.cls.vectorised:
        raise UsageProblem(f"strategy '{target.cls.name}' has no vectorised path; use --engine event")
    started = time.perf_counter()
    if engine == "fast":
        # done before a progress bar could draw (it would read "1/1 candles"): none, nor its
        # module, whose import and live display cost 50-100 ms
        from core.backtest.fast import run_fast

        result = run_fast(target.cls, series[0], target.params, settings)
    else:
        result = _run_event(target.cls, series, tapes, target.params, settings, signals, args.json, funding,
                            config if args.with_risk else None)
    result.elapsed_s = time.perf_counter() - started
    if args.export:
        from core.backtest.report import export

        export(result, args.export)
    if args.save:
        asyncio.run(_save_result(ctx, target.strategy_id, result))
    # holding the market over the same candles, the yardstick (one market only)
    holding = (buy_and_hold_return(float(series[0].open[0]), float(series[0].close[-1]), settings.fee)
               if len(series) == 1 else None)
    if args.json:
        print(json.dumps({**result.summary(), "buy_and_hold_return": holding}))
    else:
        _print_backtest(result, args.export, holding)
    return 0


def _run_event(cls: type[Strategy], series: list[Bars], tapes: dict[str, Tape], params: dict[str, Any],
               settings: BacktestSettings, signals: list[Any], json_output: bool,
               funding: dict[str, list[FundingRate]], risk: AppConfig | None) -> BacktestResult:
    from cli.progress import progress_bar, wanted
    from core.backtest.engine import backtest

    with progress_bar(f"backtest {cls.name}", wanted(json_output), "candles") as progress:
        return backtest(cls, series, params, settings, signals=signals, tapes=tapes, funding=funding, progress=progress,
                        risk=risk)


def _stored_funding(ctx: CommandContext, venue: str, series: list[Bars]) -> dict[str, list[FundingRate]]:
    """The funding rates the data service stored for each perpetual over the candles' time:
    the event engine pays them. The database is opened only for a perpetual."""
    perpetuals = [bars for bars in series if ":" in bars.symbol]
    storage = ctx.storage(ctx.load_config()) if perpetuals else None
    if storage is None or not storage.exists():
        return {}

    async def read() -> dict[str, list[FundingRate]]:
        async with await storage.open() as db:
            found = {bars.symbol: await db.load_funding_rates(venue, bars.symbol, int(bars.ts[0]),
                                                              int(bars.ts[-1]) + bars.step_ms) for bars in perpetuals}
        return {symbol: rates for symbol, rates in found.items() if rates}

    return asyncio.run(read())


def _signals(path: Path) -> list[Any]:
    from pydantic import ValidationError

    from core.models import Signal

    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(rows, list):
        raise UsageProblem(f"{path}: expected a JSON list of signals")
    signals = []
    for number, row in enumerate(rows, 1):
        try:
            signals.append(Signal.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(the row)"
            raise UsageProblem(f"{path}: signal {number}: {field}: {first['msg']}") from None
    return signals


async def _save_result(ctx: CommandContext, strategy_id: str, result: BacktestResult) -> None:
    async with await ctx.storage(ctx.load_config()).open() as db:
        await db.set_state(f"backtest.last.{strategy_id}", json.dumps(result.summary()))


def _print_backtest(result: BacktestResult, exported: Path | None, holding: float | None) -> None:
    m = result.metrics
    _table(f"{result.strategy} on {result.symbol} {result.timeframe} ({result.engine} engine, {len(result.ts):,} candles)", [
        ("parameters", params_text(result.params)),
        ("final equity", m.final_equity), ("total return %", m.total_return * 100),
        ("buy and hold %", None if holding is None else holding * 100),
        ("CAGR %", None if m.cagr is None else m.cagr * 100), ("Sharpe", m.sharpe), ("Sortino", m.sortino),
        ("Calmar", m.calmar), ("max drawdown %", m.max_drawdown * 100),
        ("max drawdown duration (days)", m.max_drawdown_duration_ms / 86_400_000),
        ("trades", m.trades), ("win rate %", None if m.win_rate is None else m.win_rate * 100),
        ("profit factor", m.profit_factor), ("average trade", m.avg_trade_pnl),
        ("exposure %", m.exposure * 100), ("fees", m.fees),
        ("funding received", result.funding if result.engine == "event" else None),
        ("open position", result.final_position),
        ("elapsed (s)", result.elapsed_s),
    ])
    if result.risk is not None:
        _print_gate(result.risk)
    if exported:
        print(f"exported to {exported}")


def _print_gate(risk: dict[str, Any]) -> None:
    rows: list[tuple[str, Any]] = [("orders refused", risk["refused"])]
    rows += [(f"  {rule}", f"{entry['count']}: {entry['first_reason']}") for rule, entry in risk["by_rule"].items()]
    rows += [("breakers tripped", ", ".join(risk["breakers_tripped"]) or "none"), ("risk state at the end", risk["final_state"])]
    _table("pre-trade gate (--with-risk)", rows)


# ----- optimize ------------------------------------------------------------------------------------


@guarded
@writes_home(lambda args: args.save_version)
def handle_optimize(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.backtest.optimizer import SearchSettings, optimize

    config = ctx.load_config()
    target = Target(args, config, asyncio.run(_versions(ctx, args.strategy)))
    series, _ = load_series(args, ctx, target)
    if len(series) != 1:
        raise UsageProblem("optimize works on one symbol")
    search = SearchSettings(
        method=args.method, objective=args.objective, grid_points=args.grid_points, population=args.population,
        generations=args.generations, folds=args.folds, train_fraction=args.train_fraction, workers=args.workers,
        seed=args.seed, only=tuple(n.strip() for n in args.only.split(",") if n.strip()) if args.only else (),
    )
    if args.save_version:
        strategy_config(config, args.strategy)
    settings = settings_from(args)
    from cli.progress import progress_bar, wanted

    with cluster_for(args) as cluster, progress_bar(f"{args.method} {target.cls.name}", wanted(args.json),
                                                    "evaluations") as progress:
        result = optimize(target.cls, series[0], search, settings, base=target.params, progress=progress, executor=cluster)
    version = None
    if args.save_version:
        note = json.dumps({"optimize": search.method, "objective": search.objective, "score": result.best.to_dict()["score"],
                           "out_of_sample": result.summary()["out_of_sample_mean"]})
        version = asyncio.run(_save_version(ctx, args.strategy, result.best.params, note))
    if args.json:
        print(json.dumps({**result.summary(), "saved_version": version, "cluster": cluster_summary(cluster)}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{target.cls.name}: best of {result.evaluations} backtests by {result.objective}")
    table.add_column("#")
    table.add_column("parameters")
    table.add_column(result.objective, justify="right")
    table.add_column("return %", justify="right")
    table.add_column("trades", justify="right")
    for rank, candidate in enumerate(result.top, 1):
        table.add_row(str(rank), params_text(candidate.params), _fmt(candidate.score),
                      _fmt(candidate.metrics["total_return"] * 100), str(candidate.metrics["trades"]))
    Console().print(table)
    for k, fold in enumerate(result.folds, 1):
        print(f"fold {k}: in-sample {result.objective} {_fmt(fold.best.score)}, "
              f"out-of-sample {_fmt(fold.out_of_sample.score)} with {params_text(fold.best.params)}")
    if cluster is not None:
        print(cluster_line(cluster))
    if version is not None:
        print(f"{args.strategy}: version {version} saved with the best parameters")
    return 0


@contextmanager
def cluster_for(args: argparse.Namespace) -> Iterator[DaskCluster | None]:
    """The Dask cluster --cluster names, started (and closed after the search); None without it."""
    if not args.cluster:
        yield None
        return
    if args.workers != 1:
        raise UsageProblem("--workers sets the local process pool; with --cluster the cluster's workers run the backtests")
    from core.backtest.cluster import DaskCluster, parse_cluster

    with DaskCluster(parse_cluster(args.cluster)) as cluster:
        yield cluster


def cluster_summary(cluster: DaskCluster | None) -> dict[str, Any] | None:
    return None if cluster is None else cluster.summary


def cluster_line(cluster: DaskCluster) -> str:
    return (f"ran on the Dask cluster {cluster.spec.label}: {cluster.summary['workers']} workers, "
            f"ready in {cluster.startup_s:.1f} s")


async def _save_version(ctx: CommandContext, strategy_id: str, params: dict[str, Any], note: str) -> int:
    from core.clock import WallClock

    async with await ctx.storage(ctx.load_config()).open(clock=WallClock(), create=True) as db:
        return await db.save_strategy_version(strategy_id, params, note, WallClock().now_ms())


# ----- evolve --------------------------------------------------------------------------------------


@guarded
@writes_home(lambda args: not args.dry_run)
def handle_evolve(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.load_config()
    strategy_config(config, args.strategy)
    from cli.progress import progress_bar, wanted

    with cluster_for(args) as cluster, progress_bar(f"review {args.strategy}", wanted(args.json),
                                                    "evaluations") as progress:
        return asyncio.run(_evolve(args, ctx, config, cluster, progress))


async def _evolve(args: argparse.Namespace, ctx: CommandContext, config: AppConfig, cluster: DaskCluster | None,
                  progress: Callable[[int, int], None]) -> int:
    from core.backtest.evolve import DAY_MS, ReviewSettings, daily_review
    from core.backtest.optimizer import SearchSettings
    from core.clock import WallClock

    now = WallClock().now_ms()
    async with await ctx.storage(config).open(clock=WallClock(), create=True) as db:
        versions = await db.strategy_versions(args.strategy)
        target = Target(args, config, versions)
        series, _ = await asyncio.to_thread(load_series, args, ctx, target)
        fills = await db.load_fills(strategy_id=args.strategy, since_ms=now - DAY_MS)
        review = ReviewSettings(
            search=SearchSettings(population=args.population, generations=args.generations, objective=args.objective,
                                  workers=args.workers, seed=args.seed),
            holdout_fraction=args.holdout, min_improvement=args.min_improvement,
        )
        result = await daily_review(args.strategy, target.cls, target.params, series[0], fills=fills,
                                    versions=None if args.dry_run else db, review=review,
                                    settings=settings_from(args), now_ms=now, executor=cluster, progress=progress)
    if args.json:
        print(json.dumps({**result.summary(), "cluster": cluster_summary(cluster)}, default=str))
        return 0
    _table(f"daily review of {args.strategy} ({target.cls.name})", [
        ("fills today", result.live.fills), ("realized PnL today", str(result.live.realized_pnl)),
        (f"current {review.search.objective} (out-of-sample)", result.current.score),
        (f"challenger {review.search.objective}", result.challenger.score),
        ("challenger parameters", params_text(result.challenger.params)),
        ("decision", "adopted" if result.adopted else "kept the current parameters"),
        ("saved version", result.version if result.version is not None else ("dry run" if args.dry_run and result.adopted else "-")),
    ])
    if cluster is not None:
        print(cluster_line(cluster))
    return 0


def strategy_config(config: AppConfig, strategy_id: str) -> StrategyConfig:
    found = config.strategies.get(strategy_id)
    if found is None:
        raise UsageProblem(
            f"'{strategy_id}' is not a configured strategy (configured: {', '.join(config.strategies) or 'none'})"
        )
    return found
