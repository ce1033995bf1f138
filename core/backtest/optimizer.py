"""Parameter search: grid search and a genetic algorithm, with walk-forward validation.

Every candidate is a full backtest (the vectorised path when the strategy has one), scored by
one metric to maximise. Evaluations run on an executor (``core.backtest.executor``: this
process, a process pool, or a Dask cluster) whose workers receive the candles once and then
only parameter sets; results come back keyed by evaluation and all randomness comes from one
seeded generator here, so a run is the same for a seed wherever and on how many workers it runs.

Walk-forward: the candles are cut into ``folds`` consecutive windows; in each, the first
``train_fraction`` is searched (in-sample) and the winner is backtested on the rest
(out-of-sample, preceded by the winner's indicator warm-up), which is the figure to trust.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.backtest.data import Bars
from core.backtest.executor import EvalContext, EvalJob, Executor, Session, local_executor
from core.backtest.objectives import OBJECTIVES
from core.backtest.result import BacktestSettings
from core.strategies.base import Param, ParameterError, Strategy

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SearchSettings:
    method: str = "genetic"  # "grid" | "genetic"
    objective: str = "sharpe"
    grid_points: int = 5
    population: int = 20
    generations: int = 10
    crossover_rate: float = 0.7
    mutation_rate: float = 0.3  # chance each parameter of a child is mutated
    mutation_scale: float = 0.15  # mutation step, as a share of the parameter's range
    elite: int = 2
    tournament: int = 3
    seed: int = 42
    workers: int = 1
    folds: int = 0  # walk-forward windows; 0 searches all the candles once
    train_fraction: float = 0.7
    min_trades: int = 1
    engine: str = "auto"  # "auto" (fast when the strategy has it) | "fast" | "event"
    only: tuple[str, ...] = ()  # search only these parameters (default: every searchable one)

    def problems(self) -> list[str]:
        found = []
        if self.method not in ("grid", "genetic"):
            found.append(f"method must be grid or genetic (got '{self.method}')")
        if self.objective not in OBJECTIVES:
            found.append(f"objective must be one of {', '.join(OBJECTIVES)} (got '{self.objective}')")
        if self.population < 2 or self.generations < 1:
            found.append("a genetic search needs a population of at least 2 and at least 1 generation")
        if not 0 <= self.elite < self.population:
            found.append(f"elite ({self.elite}) must be smaller than the population ({self.population})")
        if self.workers < 1:
            found.append(f"workers must be at least 1 (got {self.workers})")
        if self.folds < 0 or not 0.1 <= self.train_fraction <= 0.95:
            found.append("folds must be >= 0 and train_fraction between 0.1 and 0.95")
        if self.engine not in ("auto", "fast", "event"):
            found.append(f"engine must be auto, fast or event (got '{self.engine}')")
        return found


@dataclass(frozen=True)
class Candidate:
    params: dict[str, Any]
    score: float
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "score": _json_float(self.score), "metrics": self.metrics}


@dataclass(frozen=True)
class Fold:
    train: tuple[int, int]  # first and last candle time, ms
    test: tuple[int, int]
    best: Candidate
    out_of_sample: Candidate

    def to_dict(self) -> dict[str, Any]:
        return {"train": list(self.train), "test": list(self.test), "in_sample": self.best.to_dict(),
                "out_of_sample": self.out_of_sample.to_dict()}


@dataclass
class OptimizationResult:
    strategy: str
    method: str
    objective: str
    best: Candidate
    top: list[Candidate]
    folds: list[Fold] = field(default_factory=list)
    history: list[dict[str, float | None]] = field(default_factory=list)
    evaluations: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        oos = [f.out_of_sample.score for f in self.folds]
        return {
            "strategy": self.strategy, "method": self.method, "objective": self.objective,
            "best": self.best.to_dict(), "top": [c.to_dict() for c in self.top],
            "folds": [f.to_dict() for f in self.folds],
            "out_of_sample_mean": _json_float(sum(oos) / len(oos)) if oos else None,
            "generations": self.history, "evaluations": self.evaluations, "elapsed_s": round(self.elapsed_s, 6),
        }


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ----- evaluation -------------------------------------------------------------------------------


class _Evaluator:
    """Scores parameter sets on a window of the candles through the executor's session, caching
    repeats; tells ``progress`` (done, total) as each evaluation finishes, a repeat at once."""

    def __init__(self, session: Session, search: SearchSettings, total: int, progress: Progress | None) -> None:
        self.session, self.search, self.total, self.progress = session, search, total, progress
        self.window = (0, 0)
        self.cache: dict[tuple[Any, ...], Candidate] = {}
        self.evaluations = 0
        self.done = 0

    def score(self, metrics: Mapping[str, Any]) -> float:
        value = metrics.get(self.search.objective)
        if value is None or metrics["trades"] < self.search.min_trades:
            return -math.inf
        return float(value)

    def _finished(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    def __call__(self, batch: Sequence[dict[str, Any]]) -> list[Candidate]:
        keys = [(self.window, *sorted(p.items())) for p in batch]
        todo = list({k: p for k, p in zip(keys, batch, strict=True) if k not in self.cache}.items())
        if len(batch) > len(todo):
            self._finished(len(batch) - len(todo))
        jobs = [EvalJob(self.evaluations + n, dict(params), *self.window) for n, (_, params) in enumerate(todo)]
        outcomes = self.session.run(jobs, self._finished) if jobs else {}
        self.evaluations += len(jobs)
        for job, (key, params) in zip(jobs, todo, strict=True):
            self.cache[key] = Candidate(dict(params), self.score(outcomes[job.key]), outcomes[job.key])
        return [self.cache[k] for k in keys]


# ----- the search space ---------------------------------------------------------------------------


def search_space(strategy_cls: type[Strategy], only: Sequence[str] = ()) -> list[Param]:
    if only:
        chosen = [strategy_cls.param(name) for name in only]
        fixed = [p.name for p in chosen if not p.searchable]
        if fixed:
            raise ParameterError(f"strategy '{strategy_cls.name}': {', '.join(fixed)} cannot be searched (no bounds or not tunable)")
        return chosen
    space = [p for p in strategy_cls.parameters if p.searchable]
    if not space:
        raise ParameterError(f"strategy '{strategy_cls.name}' has no parameters to search")
    return space


def _valid(strategy_cls: type[Strategy], params: dict[str, Any]) -> bool:
    try:
        strategy_cls.validate_params(params)
    except ParameterError:
        return False
    return True


def _rank(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Best first; ties broken by the parameters so the order never depends on arrival."""
    return sorted(candidates, key=lambda c: (-c.score, repr(sorted(c.params.items()))))


def grid_combos(strategy_cls: type[Strategy], base: dict[str, Any], space: list[Param], search: SearchSettings) -> list[dict[str, Any]]:
    """Every valid combination of ``search.grid_points`` values per searched parameter."""
    combos = [dict(base, **dict(zip([p.name for p in space], values, strict=True)))
              for values in itertools.product(*(p.grid(search.grid_points) for p in space))]
    combos = [c for c in combos if _valid(strategy_cls, c)]
    if not combos:
        raise ParameterError(f"no valid parameter combination for '{strategy_cls.name}' on this grid")
    return combos


def genetic_search(strategy_cls: type[Strategy], base: dict[str, Any], space: list[Param], search: SearchSettings,
                   evaluate: _Evaluator, history: list[dict[str, float | None]], rng: random.Random) -> list[Candidate]:
    def random_valid(template: dict[str, Any]) -> dict[str, Any]:
        for _ in range(50):
            candidate = dict(template, **{p.name: p.sample(rng) for p in space})
            if _valid(strategy_cls, candidate):
                return candidate
        return dict(template)

    def child_of(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        for _ in range(20):
            child = dict(a)
            if rng.random() < search.crossover_rate:
                for p in space:
                    if rng.random() < 0.5:
                        child[p.name] = b[p.name]
            for p in space:
                if rng.random() < search.mutation_rate:
                    child[p.name] = p.mutate(child[p.name], rng, search.mutation_scale)
            if _valid(strategy_cls, child):
                return child
        return dict(a)

    def pick(ranked: list[Candidate]) -> dict[str, Any]:
        contenders = [ranked[rng.randrange(len(ranked))] for _ in range(max(1, search.tournament))]
        return _rank(contenders)[0].params

    population = [dict(base)] + [random_valid(base) for _ in range(search.population - 1)]
    seen: dict[tuple[Any, ...], Candidate] = {}
    ranked: list[Candidate] = []
    for generation in range(search.generations):
        scored = evaluate(population)
        for c in scored:
            seen[tuple(sorted(c.params.items()))] = c
        ranked = _rank(scored)
        finite = [c.score for c in scored if math.isfinite(c.score)]
        history.append({"generation": generation + 1, "best": _json_float(ranked[0].score),
                        "mean": sum(finite) / len(finite) if finite else None})
        if generation + 1 == search.generations:
            break
        elite = [c.params for c in ranked[: search.elite]]
        population = elite + [child_of(pick(ranked), pick(ranked)) for _ in range(search.population - len(elite))]
    return _rank(list(seen.values()))


# ----- the entry point -----------------------------------------------------------------------------


def optimize(
    strategy_cls: type[Strategy],
    bars: Bars,
    search: SearchSettings | None = None,
    settings: BacktestSettings | None = None,
    *,
    base: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> OptimizationResult:
    """Search ``strategy_cls``'s parameters on ``bars``; ``base`` fixes the ones not searched
    (and seeds the genetic population). The backtests run on ``executor`` (default: this
    process, or a process pool of ``search.workers``); ``progress`` is told (done, total)
    evaluations as they finish. Raises ParameterError/ValueError for bad settings."""
    search = search or SearchSettings()
    settings = settings or BacktestSettings()
    problems = search.problems() + settings.problems()
    if problems:
        raise ValueError("; ".join(problems))
    started = time.perf_counter()
    start_params = strategy_cls.validate_params(base or {})
    space = search_space(strategy_cls, search.only)
    rng = random.Random(search.seed)
    history: list[dict[str, float | None]] = []
    windows = _windows(len(bars), search)
    combos = grid_combos(strategy_cls, start_params, space, search) if search.method == "grid" else []
    per_window = len(combos) if combos else search.population * search.generations
    total = per_window * len(windows) + sum(test is not None for _, test in windows)
    executor = executor or local_executor(search.workers)
    if progress is not None:
        progress(0, total)
    with executor.open(EvalContext(strategy_cls, bars, settings, search.engine)) as session:
        evaluate = _Evaluator(session, search, total, progress)
        folds: list[Fold] = []
        ranked: list[Candidate] = []
        for train, test in windows:
            evaluate.window = train
            if combos:
                ranked = _rank(evaluate(combos))
            else:
                ranked = genetic_search(strategy_cls, start_params, space, search, evaluate, history, rng)
            if test is not None:
                # the out-of-sample backtest starts early by the winner's warm-up, so its
                # indicators are ready when the test window opens
                warmup = strategy_cls(ranked[0].params).warmup()
                evaluate.window = (max(0, test[0] - warmup), test[1])
                (oos,) = evaluate([ranked[0].params])
                folds.append(Fold(_span(bars, train), _span(bars, test), ranked[0], oos))
    return OptimizationResult(
        strategy=strategy_cls.name, method=search.method, objective=search.objective, best=ranked[0], top=ranked[:10],
        folds=folds, history=history, evaluations=evaluate.evaluations, elapsed_s=time.perf_counter() - started,
    )


def _windows(n: int, search: SearchSettings) -> list[tuple[tuple[int, int], tuple[int, int] | None]]:
    if search.folds == 0:
        return [((0, n), None)]
    size = n // search.folds
    split = int(size * search.train_fraction)
    if split < 10 or size - split < 10:
        raise ValueError(f"{n} candles are too few for {search.folds} walk-forward folds")
    return [((k * size, k * size + split), (k * size + split, (k + 1) * size)) for k in range(search.folds)]


def _span(bars: Bars, window: tuple[int, int]) -> tuple[int, int]:
    return int(bars.ts[window[0]]), int(bars.ts[window[1] - 1])
