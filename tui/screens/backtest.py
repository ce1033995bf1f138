"""The Backtest screen (key 7): the status bar, the footer and its keys around a
``BacktestPanel`` (the form, the run and the results, and the optimisation below the form).

The panel's module brings the backtester, the strategies and numpy, which the first frame of
the app should not wait for: it is imported when this screen is first composed. The app's help,
palette and key bindings only need the title and the keys defined here."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from tui.screens.base import OpenTradeScreen

if TYPE_CHECKING:
    from core.backtest.result import BacktestResult
    from tui.widgets.backtest_panel import BacktestPanel


class BacktestScreen(OpenTradeScreen):
    TITLE_TEXT = "Backtest"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run backtest", id="backtest-run"),
        Binding("ctrl+o", "optimise", "Optimise", id="backtest-optimise"),
    ]

    _panel: BacktestPanel | None = None

    def compose_body(self) -> ComposeResult:
        from tui.widgets.backtest_panel import BacktestPanel

        self._panel = BacktestPanel(id="backtest-body")
        yield self._panel

    @property
    def panel(self) -> BacktestPanel:
        if self._panel is None:
            raise RuntimeError("the Backtest screen is not composed yet")
        return self._panel

    @property
    def result(self) -> BacktestResult | None:
        """The last backtest shown, None before the first one finishes."""
        return self.panel.result

    def action_run(self) -> None:
        self.panel.run()

    def action_optimise(self) -> None:
        from tui.widgets.optimize_panel import OptimizePanel

        self.panel.query_one(OptimizePanel).run()
