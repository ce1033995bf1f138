"""The stop-loss / take-profit dialog of the Positions screen. Both fields are checked before
anything is sent: a number written with a dot, on the instrument's tick, on the protecting
side of the mark. An empty field removes that level."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from core.models import Instrument, Position, PositionSide, ProtectiveLevels
from core.risk.protection import KINDS, LEVEL_NAMES, STOP_LOSS, TAKE_PROFIT, level_problems
from tui.format import fmt_price
from tui.numbers import NumberError, parse_number
from tui.screens.dialog import Dialog

LevelsChange = tuple[Decimal | None, Decimal | None]


def parse_level(text: str) -> tuple[Decimal | None, str | None]:
    """(price, problem): an empty text is no level; otherwise the one reading of a number every
    price field shares (``1,5`` is refused, never read as 15 or 1.5)."""
    if not text.strip():
        return None, None
    try:
        return parse_number(text), None
    except NumberError as exc:
        return None, str(exc)


def parse_levels(
    position: Position, mark: Decimal | None, instrument: Instrument, texts: dict[str, str],
    current: ProtectiveLevels | None,
) -> tuple[LevelsChange | None, dict[str, str]]:
    """The (stop-loss, take-profit) to set, or the problem with each field ("form" when
    nothing changed)."""
    values: dict[str, Decimal | None] = {}
    errors: dict[str, str] = {}
    for kind in KINDS:
        values[kind], problem = parse_level(texts.get(kind, ""))
        if problem is not None:
            errors[kind] = problem
    errors = level_problems(position.side, mark, {k: v for k, v in values.items() if k not in errors},
                            instrument) | errors
    if errors:
        return None, errors
    before = (current.stop_loss, current.take_profit) if current is not None else (None, None)
    change = (values[STOP_LOSS], values[TAKE_PROFIT])
    if change == before:
        return None, {"form": "nothing changed"}
    return change, {}


class EditProtectionScreen(Dialog[LevelsChange | None]):
    HELP_TITLE = "Stop-loss / take-profit dialog"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+y", "confirm", "Confirm", id="protect-confirm"),
        Binding("escape", "cancel", "Cancel", id="protect-cancel"),
    ]
    DEFAULT_CSS = """
    EditProtectionScreen { align: center middle; }
    EditProtectionScreen #dialog { width: 64; max-width: 95%; height: auto; border: thick $primary;
                                   background: $surface; padding: 0 2; }
    EditProtectionScreen #title { text-style: bold; }
    EditProtectionScreen #where { color: $text-muted; margin-bottom: 1; }
    EditProtectionScreen .error { color: $error; height: auto; }
    """

    def __init__(self, position: Position, mark: Decimal | None, instrument: Instrument,
                 current: ProtectiveLevels | None, where: str) -> None:
        """``where``: where the levels will live, in the trader's words."""
        super().__init__()
        self.position = position
        self.mark = mark
        self.instrument = instrument
        self.current = current
        self.where = where

    def compose(self) -> ComposeResult:
        p, decimals = self.position, self.instrument.price_decimals
        long = p.side is PositionSide.LONG
        with Vertical(id="dialog"):
            yield Label(f"Stop-loss / take-profit: {p.side.value} {p.size} {p.symbol} on {p.venue}", id="title")
            yield Static(f"entry {fmt_price(p.entry_price, decimals)}  mark {fmt_price(self.mark, decimals)}  "
                         f"tick {self.instrument.tick_size}\n{self.where}", id="where")
            for kind, side_word in ((STOP_LOSS, "below" if long else "above"), (TAKE_PROFIT, "above" if long else "below")):
                price = getattr(self.current, kind) if self.current is not None else None
                yield Label(f"{LEVEL_NAMES[kind].capitalize()} ({side_word} the mark; empty: none)")
                yield Input(value="" if price is None else str(price), placeholder="none", id=kind, compact=True)
                yield Static("", classes="error", id=f"{kind}-error")
            yield Static("", classes="error", id="form-error")

    @on(Input.Submitted)
    def action_confirm(self) -> None:
        texts = {kind: self.query_one(f"#{kind}", Input).value for kind in KINDS}
        change, errors = parse_levels(self.position, self.mark, self.instrument, texts, self.current)
        for name in (*KINDS, "form"):
            message = errors.get(name, "")
            self.query_one(f"#{name}-error", Static).update(f"↳ {message}" if message else "")
        if change is not None:
            self.dismiss(change)

    def action_cancel(self) -> None:
        self.dismiss(None)
