"""Where a parameter search's backtests run.

The optimiser opens an ``Executor`` with what every evaluation of the search shares (strategy
class, candles, settings: shipped to the workers once), then hands the session batches of
jobs. Each job carries its number in the search and results come back keyed by it, so an
executor can retry the work of a lost worker without losing an evaluation or counting one
twice, and the search is the same for a seed wherever it runs: every random draw happens in
the caller, the workers only backtest.

Here: the calling thread (``InProcess``) and a local process pool (``ProcessPool``);
``core.backtest.cluster`` runs on a Dask cluster and imports Dask only when asked for.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from core.backtest.data import Bars
from core.backtest.result import BacktestResult, BacktestSettings
from core.strategies.base import ParameterError, Strategy

Metrics = dict[str, Any]
Rows = list[tuple[int, Metrics]]
#: told how many evaluations just finished (for progress), from the thread that runs the search
Done = Callable[[int], None]


@dataclass(frozen=True)
class EvalContext:
    """What every evaluation of one search shares."""

    strategy_cls: type[Strategy]
    bars: Bars
    settings: BacktestSettings
    engine: str


@dataclass(frozen=True)
class EvalJob:
    """One backtest: ``key`` is its number in the search, ``start``/``stop`` its window of candles."""

    key: int
    params: dict[str, Any]
    start: int
    stop: int


def run_backtest(
    strategy_cls: type[Strategy], bars: Bars, params: Mapping[str, Any], settings: BacktestSettings, engine: str = "auto"
) -> BacktestResult:
    """One backtest on the chosen path: ``auto`` is the vectorised one when the strategy has it."""
    from core.backtest.engine import backtest
    from core.backtest.fast import run_fast

    if engine == "fast" or (engine == "auto" and strategy_cls.vectorised):
        if not strategy_cls.vectorised:
            raise ParameterError(f"strategy '{strategy_cls.name}' has no vectorised path; use the event engine")
        return run_fast(strategy_cls, bars, dict(params), settings)
    return backtest(strategy_cls, bars, params, settings)


def evaluate(context: EvalContext, jobs: Sequence[EvalJob]) -> Rows:
    """Each job's metrics with its key: what every kind of worker runs (a top-level function, so
    it pickles by reference and a worker imports it from this module)."""
    return [
        (job.key, run_backtest(context.strategy_cls, context.bars.slice(job.start, job.stop), job.params,
                               context.settings, context.engine).metrics.to_dict())
        for job in jobs
    ]


def chunked(jobs: Sequence[EvalJob], slots: int) -> list[list[EvalJob]]:
    """About four chunks per worker: few enough that the per-task overhead stays small, enough
    that a slow chunk does not leave the others idle and the progress moves."""
    size = max(1, math.ceil(len(jobs) / (4 * max(1, slots))))
    return [list(jobs[start:start + size]) for start in range(0, len(jobs), size)]


class Results:
    """Every job's metrics exactly once, by key, in whatever order the rows arrive: a batch
    computed twice (re-run after its worker was lost) counts once, and a job that no worker
    answered is an error rather than a silently smaller search."""

    def __init__(self, jobs: Sequence[EvalJob], done: Done) -> None:
        self.jobs, self.done = jobs, done
        self.metrics: dict[int, Metrics] = {}

    def add(self, rows: Rows) -> None:
        fresh = 0
        for key, metrics in rows:
            if key not in self.metrics:
                self.metrics[key] = metrics
                fresh += 1
        if fresh:
            self.done(fresh)

    def missing(self) -> list[EvalJob]:
        return [job for job in self.jobs if job.key not in self.metrics]

    def complete(self) -> dict[int, Metrics]:
        missing = len(self.missing())
        if missing:
            raise RuntimeError(f"{missing} of {len(self.jobs)} evaluations came back from no worker")
        return {job.key: self.metrics[job.key] for job in self.jobs}


def collect(batches: Iterable[Rows], jobs: Sequence[EvalJob], done: Done) -> dict[int, Metrics]:
    """``Results`` of batches that arrive all in one go."""
    results = Results(jobs, done)
    for rows in batches:
        results.add(rows)
    return results.complete()


class Session(Protocol):
    """An executor opened for one search."""

    #: evaluations that can run at once (for sizing batches)
    slots: int

    def run(self, jobs: Sequence[EvalJob], done: Done) -> dict[int, Metrics]:
        """Every job's metrics by key, each exactly once; ``done`` is told as they finish."""
        ...


class Executor(Protocol):
    def open(self, context: EvalContext) -> AbstractContextManager[Session]:
        """Ship ``context`` to the workers (once) for the searches run in the ``with`` block."""
        ...


class _Serial:
    slots = 1

    def __init__(self, context: EvalContext) -> None:
        self.context = context

    def run(self, jobs: Sequence[EvalJob], done: Done) -> dict[int, Metrics]:
        return collect((evaluate(self.context, [job]) for job in jobs), jobs, done)


class InProcess:
    """Evaluations one after the other in the calling thread."""

    @contextmanager
    def open(self, context: EvalContext) -> Iterator[Session]:
        yield _Serial(context)


# a pool worker's copy of the context, received once when the worker starts
_CONTEXT: list[EvalContext] = []


def _adopt(context: EvalContext) -> None:
    _CONTEXT[:] = [context]


def _evaluate_here(jobs: Sequence[EvalJob]) -> Rows:
    return evaluate(_CONTEXT[0], jobs)


class _PoolSession:
    def __init__(self, pool: ProcessPoolExecutor, slots: int) -> None:
        self.pool, self.slots = pool, slots

    def run(self, jobs: Sequence[EvalJob], done: Done) -> dict[int, Metrics]:
        futures = [self.pool.submit(_evaluate_here, chunk) for chunk in chunked(jobs, self.slots)]
        return collect((future.result() for future in as_completed(futures)), jobs, done)


class ProcessPool:
    """Worker processes on this machine that receive the context once, at start-up."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    @contextmanager
    def open(self, context: EvalContext) -> Iterator[Session]:
        # fork starts workers in milliseconds but is unsafe once threads exist (the TUI runs
        # searches in a thread, aiosqlite and Dask have their own): then spawn, which starts
        # clean interpreters
        method = "fork" if threading.active_count() == 1 and sys.platform == "linux" else "spawn"
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context(method),
                                 initializer=_adopt, initargs=(context,)) as pool:
            yield _PoolSession(pool, self.workers)


def local_executor(workers: int) -> Executor:
    """The default: this thread for one worker, a process pool for more."""
    return InProcess() if workers <= 1 else ProcessPool(workers)
