"""The Backtest screen's optimisation: search the chosen strategy's parameters within their
declared bounds (grid or genetic) on the form's candle file, fee and cash, in a thread worker
with a progress bar (evaluations done of the total, rate, time remaining); show the best
parameters and save them as a new version of a configured strategy of that kind, as
`opentrade optimize --save-version` does (here the running strategy takes them at once too).

The strategy, the parameters not searched, the candle file and the settings come from the
form above (``BacktestPanel.checked_inputs``), so each is typed and checked in one place."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, ProgressBar, Select, SelectionList, Static
from textual.worker import get_current_worker

from core.backtest.data import DataError, load_bars
from core.backtest.engine import StrategyFailed
from core.backtest.objectives import OBJECTIVES
from core.backtest.optimizer import OptimizationResult, SearchSettings, optimize
from core.strategies.base import ParameterError, Strategy

if TYPE_CHECKING:
    from textual.timer import Timer

    from tui.widgets.backtest_panel import BacktestInputs

DEFAULTS = SearchSettings()
COUNTS = {"population": DEFAULTS.population, "generations": DEFAULTS.generations, "grid-points": DEFAULTS.grid_points}
PROGRESS_HZ = 10


def params_line(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def best_text(result: OptimizationResult) -> str:
    best = result.best
    metrics = best.metrics
    trades = metrics["trades"]
    return (f"Best {result.objective}: {best.score:.4f}\n{params_line(best.params)}\n"
            f"return {metrics['total_return'] * 100:+.2f}% · max drawdown {metrics['max_drawdown'] * 100:.2f}% · "
            f"{trades} trade{'s' if trades != 1 else ''}")


class _Replaced(Exception):
    """Raised from the progress callback to stop a search a newer one replaced."""


class OptimizePanel(Vertical):
    """The optimisation part of the Backtest form (see the module docstring)."""

    def __init__(self, inputs: Callable[[], BacktestInputs | None], strategy: type[Strategy], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.inputs = inputs
        self.strategy = strategy
        self.result: OptimizationResult | None = None
        self._progress = (0, 0)
        self._started = 0.0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("Optimise", classes="section")
        yield Label("Method")
        yield Select([("genetic", "genetic"), ("grid", "grid")], value=DEFAULTS.method, allow_blank=False,
                     id="bt-opt-method")
        yield Label("Objective (maximised)")
        yield Select([(name, name) for name in OBJECTIVES], value=DEFAULTS.objective, allow_blank=False,
                     id="bt-opt-objective")
        yield Label("Search within the declared bounds")
        yield SelectionList[str](*self._space(self.strategy), id="bt-opt-space")
        for field, value in COUNTS.items():
            yield Label(f"{field.replace('-', ' ').capitalize()} ({'grid' if field == 'grid-points' else 'genetic'})")
            yield Input(str(value), id=f"bt-opt-{field}")
            yield Static("", classes="error", id=f"bt-opt-{field}-error")
        yield Static("", classes="error", id="bt-opt-error")
        yield Button("Optimise (ctrl+o)", variant="primary", id="bt-opt-run")
        yield ProgressBar(show_eta=True, id="bt-opt-progress")
        yield Static("", id="bt-opt-status")
        yield Static("", id="bt-opt-best")
        yield Label("Save the best as a new version of")
        yield Select[str]([], prompt="no configured strategy of this kind", id="bt-opt-target")
        yield Button("Save version", id="bt-opt-save", disabled=True)

    @staticmethod
    def _space(cls: type[Strategy]) -> list[tuple[str, str, bool]]:
        return [(f"{p.name} ({p.describe_bounds()})", p.name, True) for p in cls.parameters if p.searchable]

    def set_strategy(self, cls: type[Strategy]) -> None:
        """The form's strategy changed: its searchable parameters, no result of another kind."""
        self.strategy, self.result = cls, None
        space = self.query_one("#bt-opt-space", SelectionList)
        space.clear_options()
        space.add_options(self._space(cls))
        self.query_one("#bt-opt-best", Static).update("")
        self.query_one("#bt-opt-status", Static).update("")
        self.query_one("#bt-opt-save", Button).disabled = True
        self._show_targets()

    def on_mount(self) -> None:
        self._show_targets()

    # ------------------------------------------------------------------ checking
    def _error(self, widget_id: str, message: str) -> bool:
        self.query_one(f"#{widget_id}", Static).update(f"↳ {message}" if message else "")
        return bool(message)

    def _count(self, field: str) -> int | None:
        text = self.query_one(f"#bt-opt-{field}", Input).value.strip()
        try:
            value = int(text)
        except ValueError:
            self._error(f"bt-opt-{field}-error", f"'{text}' is not a whole number")
            return None
        self._error(f"bt-opt-{field}-error", "")
        return value

    def _search(self) -> SearchSettings | None:
        counts = {field: self._count(field) for field in COUNTS}
        only = tuple(self.query_one("#bt-opt-space", SelectionList).selected)
        population, generations, points = counts["population"], counts["generations"], counts["grid-points"]
        if population is None or generations is None or points is None:
            return None
        search = SearchSettings(method=str(self.query_one("#bt-opt-method", Select).value),
                                objective=str(self.query_one("#bt-opt-objective", Select).value),
                                population=population, generations=generations, grid_points=points, only=only)
        problems = search.problems()
        if search.method == "grid" and not 2 <= points <= 50:
            problems.append(f"grid points must be between 2 and 50 (got {points})")
        if not only:
            problems.append("choose at least one parameter to search")
        return None if self._error("bt-opt-error", "; ".join(problems)) else search

    # ------------------------------------------------------------------ running
    @on(Input.Submitted, "#bt-opt-population, #bt-opt-generations, #bt-opt-grid-points")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # the form's own Enter runs a backtest
        self.run()

    @on(Button.Pressed, "#bt-opt-run")
    def run(self) -> None:
        """Check the form and the search settings, then start unless one of them objects."""
        search, inputs = self._search(), self.inputs()
        if search is None or inputs is None:
            return
        if inputs.cls.needs_signals and self._error(
                "bt-opt-error", f"{inputs.cls.name} trades on agent signals: an optimisation backtests on candles alone"):
            return
        self.result = None
        self.query_one("#bt-opt-save", Button).disabled = True
        self.query_one("#bt-opt-best", Static).update("")
        self.query_one("#bt-opt-progress", ProgressBar).update(total=None, progress=0)
        self._progress, self._started = (0, 0), time.monotonic()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(1 / PROGRESS_HZ, self._show_progress)
        self._optimise(inputs, search)


    def _show_progress(self) -> None:
        done, total = self._progress
        if not total:
            return
        self.query_one("#bt-opt-progress", ProgressBar).update(total=total, progress=done)
        elapsed = time.monotonic() - self._started
        rate = f" · {done / elapsed:,.0f}/s" if elapsed >= 0.5 and done else ""
        self.query_one("#bt-opt-status", Static).update(f"{done:,}/{total:,} evaluations{rate}")

    @work(thread=True, exclusive=True, group="optimise", exit_on_error=False, name="optimisation")
    def _optimise(self, inputs: BacktestInputs, search: SearchSettings) -> None:
        """Off the loop: thousands of backtests take seconds to minutes. A search replaced by a
        newer one (ctrl+o again) stops at its next evaluation and reports nothing."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise _Replaced
            self._progress = (done, total)  # only remembered: the timer draws it, not each evaluation

        try:
            bars = load_bars(inputs.path, allow_gaps=inputs.allow_gaps)
            result = optimize(inputs.cls, bars, search, inputs.settings, base=inputs.params, progress=progress)
        except _Replaced:
            return
        except (DataError, ParameterError, ValueError, StrategyFailed) as exc:
            self.app.call_from_thread(self._finish, None, str(exc))
            return
        self.app.call_from_thread(self._finish, result, "")

    def _finish(self, result: OptimizationResult | None, problem: str) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._error("bt-opt-error", problem)
        if result is None:
            self.query_one("#bt-opt-status", Static).update("")
            self.query_one("#bt-opt-progress", ProgressBar).update(total=None, progress=0)
            return
        self.result = result
        done, total = self._progress
        bar = self.query_one("#bt-opt-progress", ProgressBar)
        bar.update(total=None)  # forgets the run's timing: a finished search shows no time remaining
        bar.update(total=total, progress=done)
        repeats = done - result.evaluations
        cached = f", {repeats:,} repeats cached" if repeats else ""
        self.query_one("#bt-opt-status", Static).update(
            f"{done:,}/{total:,} evaluations ({result.evaluations:,} backtests run{cached})")
        self.query_one("#bt-opt-best", Static).update(best_text(result))
        self._show_targets()

    # ------------------------------------------------------------------ saving
    def _session(self) -> Any:
        return getattr(self.screen, "session", None)

    def _show_targets(self) -> None:
        session = self._session()
        infos = (session.strategies() if session is not None else None) or []
        ids = [info.strategy_id for info in infos if info.kind == self.strategy.name]
        target = self.query_one("#bt-opt-target", Select)
        target.set_options([(strategy_id, strategy_id) for strategy_id in ids])
        if ids:
            target.value = ids[0]
        self.query_one("#bt-opt-save", Button).disabled = self.result is None or not ids

    @on(Button.Pressed, "#bt-opt-save")
    def save(self) -> None:
        target = self.query_one("#bt-opt-target", Select).value
        if self.result is None or not isinstance(target, str):
            return
        self._save(target, self.result)

    @work(group="optimise-save", exclusive=True, exit_on_error=False, name="saving the optimised parameters")
    async def _save(self, strategy_id: str, result: OptimizationResult) -> None:
        from tui.screens.confirm import ConfirmScreen

        params = dict(result.best.params)
        body = (f"{strategy_id} takes {params_line(params)} now, and they are stored as its new version "
                f"(best {result.objective} {result.best.score:.4f} on the backtest's candles).")
        if not await self.app.push_screen_wait(ConfirmScreen("Save the optimised parameters", body,
                                                             confirm_label="Save version")):
            return
        note = json.dumps({"optimize": result.method, "objective": result.objective,
                           "score": result.best.to_dict()["score"]})
        try:
            await self._session().set_strategy_params(strategy_id, params, note=note)
        except ParameterError as exc:
            self._error("bt-opt-error", str(exc))
            return
        self.notify(f"{strategy_id}: new version saved with {params_line(params)}")
