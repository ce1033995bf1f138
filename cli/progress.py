"""The progress bar of the long commands (backtest, optimize, evolve): on standard error, so
the report on standard output stays clean; done/total, rate and time remaining; nothing at
all with --json or when standard error is not a terminal (a pipe, a log file, a cron job)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Update = Callable[[int, int], None]


class RateColumn(ProgressColumn):
    """Done per second since the start, e.g. '85/s': steadier than a short window, whose first
    samples (a batch finishing microseconds after the start) read as 250,000/s."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or (elapsed < 0.5 and not task.finished):
            return Text("-/s", style="progress.data.speed")
        return Text(f"{task.completed / elapsed:,.0f}/s", style="progress.data.speed")


def wanted(json_output: bool, stream: object | None = None) -> bool:
    """Draw a bar only for a person watching a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not json_output and callable(isatty) and bool(isatty())


@contextmanager
def progress_bar(label: str, enabled: bool, unit: str) -> Iterator[Update]:
    """A callback taking (done, total) ``unit`` that draws the bar on standard error."""
    if not enabled:
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=12), MofNCompleteColumn(), TextColumn(unit),
               RateColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        shown = -1

        def update(done: int, total: int) -> None:
            """Besides the bar's own clock, a frame at each whole percent: a quick search still
            shows itself moving, and a long one draws at most a hundred extra frames."""
            nonlocal shown
            bar.update(task, completed=done, total=total)
            percent = done * 100 // total if total else 0
            if percent != shown:
                shown = percent
                bar.refresh()

        yield update
