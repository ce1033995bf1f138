"""The Backtest screen's content: pick a strategy, its parameters, a candle file, fee and cash,
run the event-driven backtester in a thread worker (the loop keeps painting; the progress bar
follows the backtester's callback) and read the metrics beside buying and holding, the equity
curve and the trade list. The data file starts as the sample shipped with the package, so a
first backtest needs no download; "Allow gaps" backtests across missing candles (as
``--allow-gaps`` does) instead of refusing the file.

Every field is checked by the code that owns the rule (the strategy's declared parameters and
cross-checks, ``BacktestSettings.problems``, ``load_bars``) and its message is shown under the
field; nothing runs while one of them objects.

This module brings the backtester, the strategies and numpy, so ``tui.screens.backtest``
imports it only when the screen is first shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Sparkline, Static, Switch

from core.backtest.data import SAMPLE_CANDLES, DataError, load_bars
from core.backtest.engine import backtest
from core.backtest.metrics import buy_and_hold_return
from core.backtest.result import BacktestResult, BacktestSettings
from core.strategies.base import ParameterError, Strategy
from core.strategies.registry import strategy_classes
from tui.format import fmt_datetime
from tui.widgets.optimize_panel import OptimizePanel

DEFAULT_STRATEGY = "sma_cross"
SETTINGS_DEFAULTS = BacktestSettings()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.2f}%"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def metric_rows(result: BacktestResult, buy_and_hold: float) -> list[tuple[str, str]]:
    """The headline figures, formatted for the metrics table (None, e.g. no trades, shows '-'),
    the strategy's return beside holding the market over the same candles."""
    m = result.metrics
    return [
        ("Total return", _pct(m.total_return)),
        ("Buy and hold", _pct(buy_and_hold)),
        ("CAGR", _pct(m.cagr)),
        ("Sharpe", _ratio(m.sharpe)),
        ("Sortino", _ratio(m.sortino)),
        ("Calmar", _ratio(m.calmar)),
        ("Max drawdown", _pct(m.max_drawdown)),
        ("Win rate", "-" if m.win_rate is None else f"{m.win_rate * 100:.1f}%"),
        ("Profit factor", _ratio(m.profit_factor)),
        ("Trades", str(m.trades)),
        ("Final equity", f"{m.final_equity:,.2f}"),
    ]


@dataclass(frozen=True)
class BacktestInputs:
    """The form, checked: what a backtest or an optimisation runs on."""

    cls: type[Strategy]
    params: dict[str, Any]
    settings: BacktestSettings
    path: str
    allow_gaps: bool


def _param_fields(cls: type[Strategy]) -> list[Widget]:
    """One field per declared parameter, prefilled with its default, its bounds as the hint."""
    fields: list[Widget] = []
    for param in cls.parameters:
        fields += [
            Label(f"{param.name} ({param.describe_bounds()})"),
            Input(str(param.default), id=f"bt-param-{param.name}"),
            Static("", classes="error", id=f"bt-param-error-{param.name}"),
        ]
    return fields


class BacktestPanel(Horizontal):
    """The form on the left, the results on the right."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.result: BacktestResult | None = None
        self.strategies = strategy_classes()
        # sma_cross unless it was disabled (opentrade plugin disable)
        self.first = DEFAULT_STRATEGY if DEFAULT_STRATEGY in self.strategies else next(iter(self.strategies))

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="backtest-form"):
            yield Label("Strategy")
            yield Select([(name, name) for name in self.strategies], value=self.first, allow_blank=False,
                         id="bt-strategy")
            yield Vertical(*_param_fields(self.strategies[self.first]), id="bt-params")
            yield Static("", classes="error", id="bt-params-error")
            yield Label("Data file (CSV or ccxt OHLCV JSON)")
            yield Input(str(SAMPLE_CANDLES), placeholder="path/to/candles.csv", id="bt-data")
            yield Static("", classes="error", id="bt-data-error")
            with Horizontal(id="bt-gaps-row"):
                yield Switch(False, id="bt-allow-gaps")
                yield Label("Allow gaps (missing candles)")
            yield Label("Fee (fraction of notional)")
            yield Input(str(SETTINGS_DEFAULTS.fee), id="bt-fee")
            yield Static("", classes="error", id="bt-fee-error")
            yield Label("Cash")
            yield Input(str(SETTINGS_DEFAULTS.cash), id="bt-cash")
            yield Static("", classes="error", id="bt-cash-error")
            yield Button("Run (ctrl+r)", variant="primary", id="bt-run")
            yield ProgressBar(show_eta=False, id="bt-progress")
            yield OptimizePanel(self.checked_inputs, self.strategies[self.first], id="bt-optimise")
        with Vertical(id="backtest-results"):
            metrics: DataTable[str] = DataTable(id="bt-metrics", cursor_type="none", show_cursor=False)
            metrics.add_columns("Metric", "Value")
            yield metrics
            yield Label("Equity", classes="section")
            yield Sparkline([], id="bt-equity")
            trades: DataTable[str] = DataTable(id="bt-trades", cursor_type="row", zebra_stripes=True)
            trades.add_columns("Side", "Entry time", "Exit time", "PnL", "Return", "Entry", "Exit", "Size")
            yield trades

    @property
    def strategy_cls(self) -> type[Strategy]:
        return self.strategies[str(self.query_one("#bt-strategy", Select).value)]

    @on(Select.Changed, "#bt-strategy")
    async def _strategy_changed(self, event: Select.Changed) -> None:
        await self._show_params(self.strategies[str(event.value)])
        self.query_one(OptimizePanel).set_strategy(self.strategies[str(event.value)])

    async def _show_params(self, cls: type[Strategy]) -> None:
        box = self.query_one("#bt-params", Vertical)
        await box.remove_children()
        await box.mount_all(_param_fields(cls))
        self.query_one("#bt-params-error", Static).update("")

    # ------------------------------------------------------------------ checking the form
    def _error(self, widget_id: str, message: str) -> bool:
        """Show (or clear, with '') a field's message; True when there was one."""
        self.query_one(f"#{widget_id}", Static).update(f"↳ {message}" if message else "")
        return bool(message)

    def _params(self, cls: type[Strategy]) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        problems = False
        for param in cls.parameters:
            text = self.query_one(f"#bt-param-{param.name}", Input).value
            try:
                values[param.name] = param.coerce(text, cls.name)
                self._error(f"bt-param-error-{param.name}", "")
            except ParameterError as exc:
                problems = self._error(f"bt-param-error-{param.name}", str(exc)) or problems
        if problems:
            self._error("bt-params-error", "")
            return None
        try:
            checked = cls.validate_params(values)
        except ParameterError as exc:
            self._error("bt-params-error", str(exc))
            return None
        self._error("bt-params-error", "")
        return checked

    def _number(self, field: str, alone: Callable[[float], BacktestSettings]) -> float | None:
        """The field as a number, checked by ``BacktestSettings`` with only this field changed
        (``alone``), so each problem lands under its own field."""
        text = self.query_one(f"#bt-{field}", Input).value.strip()
        try:
            value = float(text)
        except ValueError:
            self._error(f"bt-{field}-error", f"'{text}' is not a number")
            return None
        return None if self._error(f"bt-{field}-error", "; ".join(alone(value).problems())) else value

    def _settings(self) -> BacktestSettings | None:
        fee = self._number("fee", lambda v: BacktestSettings(fee=v))
        cash = self._number("cash", lambda v: BacktestSettings(cash=v))
        if fee is None or cash is None:
            return None
        return BacktestSettings(cash=cash, fee=fee)

    def _data_path(self) -> str | None:
        path = self.query_one("#bt-data", Input).value.strip()
        return None if self._error("bt-data-error", "" if path else "give the path of a candle file") else path

    # ------------------------------------------------------------------ running
    def _focus_first_problem(self) -> None:
        """After a refusal the focus goes to the first field whose message is shown, so what the
        trader types next corrects it (and is not taken for the screen's single-letter keys)."""
        for field in self.query("#backtest-form Input").results(Input):
            name = field.id or ""
            error = f"bt-param-error-{name.removeprefix('bt-param-')}" if name.startswith("bt-param-") else f"{name}-error"
            if str(self.query_one(f"#{error}", Static).content):
                field.focus()
                return
        if str(self.query_one("#bt-params-error", Static).content):
            self.query("#bt-params Input").first().focus()

    @on(Button.Pressed, "#bt-run")
    @on(Input.Submitted)
    def run(self) -> None:
        """Check every field, then start the backtest unless one of them objects."""
        inputs = self.checked_inputs()
        if inputs is None:
            return
        self.query_one("#bt-progress", ProgressBar).update(total=None, progress=0)
        self._run(inputs.cls, inputs.params, inputs.settings, inputs.path, inputs.allow_gaps)

    def checked_inputs(self) -> BacktestInputs | None:
        """Every field checked, each message under its field; None when one of them objects."""
        cls = self.strategy_cls
        params, settings, path = self._params(cls), self._settings(), self._data_path()
        if params is None or settings is None or path is None:
            self._focus_first_problem()
            return None
        return BacktestInputs(cls, params, settings, path, self.query_one("#bt-allow-gaps", Switch).value)

    @work(thread=True, exclusive=True, group="backtest", exit_on_error=False, name="backtest")
    def _run(self, cls: type[Strategy], params: dict[str, Any], settings: BacktestSettings, path: str,
             allow_gaps: bool) -> None:
        """Off the loop: reading the file and replaying thousands of candles take seconds."""
        try:
            bars = load_bars(path, allow_gaps=allow_gaps)
        except DataError as exc:
            self.app.call_from_thread(self._error, "bt-data-error", str(exc))
            self.app.call_from_thread(self._focus_first_problem)
            return
        self.app.call_from_thread(self._error, "bt-data-error", "")
        result = backtest(cls, bars, params, settings, progress=self._progress_from_thread)
        holding = buy_and_hold_return(float(bars.open[0]), float(bars.close[-1]), settings.fee)
        self.app.call_from_thread(self._show_result, result, holding)

    def _progress_from_thread(self, done: int, total: int) -> None:
        self.app.call_from_thread(self.query_one("#bt-progress", ProgressBar).update, total=total, progress=done)

    def _show_result(self, result: BacktestResult, buy_and_hold: float) -> None:
        self.result = result
        metrics = self.query_one("#bt-metrics", DataTable)
        metrics.clear()
        for name, value in metric_rows(result, buy_and_hold):
            metrics.add_row(name, value)
        self.query_one("#bt-equity", Sparkline).data = [float(v) for v in result.equity]
        trades = self.query_one("#bt-trades", DataTable)
        trades.clear()
        for t in result.trades:
            trades.add_row(t.side, fmt_datetime(t.entry_ts), fmt_datetime(t.exit_ts), f"{t.pnl:+,.2f}",
                           f"{t.return_pct:+.2f}%", f"{t.entry_price:,.2f}", f"{t.exit_price:,.2f}", f"{t.size:.6f}")
