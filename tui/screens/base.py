"""What every main screen shares: the status bar on top, the footer, Escape leaving a text
field, and ``refresh_view``, called by the app's render clock only while the screen is the one
on display."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget

from tui.changes import Changes
from tui.widgets.footer import KeysFooter
from tui.widgets.status_bar import Status, StatusBar

if TYPE_CHECKING:
    from core.session import Session
    from tui.app import OpenTradeApp


class OpenTradeScreen(Screen[None]):
    #: the name shown in the status bar and used to restore the last screen
    TITLE_TEXT: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave_field", "Leave field", show=False, id="leave-field"),
    ]
    #: Textual repaints the whole screen when the focus moves: every widget's lines cut again
    #: and the full screen sent to the terminal, for each b, s and Escape on the Trade screen.
    #: The widgets whose look depends on the focus are restyled and repaint themselves.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    @property
    def ot_app(self) -> OpenTradeApp:
        from tui.app import OpenTradeApp

        assert isinstance(self.app, OpenTradeApp)
        return self.app

    @property
    def session(self) -> Session:
        """The engine, in this process or a gateway's: the screen does not know which."""
        return self.ot_app.session

    def compose(self) -> ComposeResult:
        # The width's breakpoint class (-narrow, -wide), which Textual adds at the first resize:
        # here, before the widgets are styled, they are styled once instead of twice.
        breakpoints = self.app.HORIZONTAL_BREAKPOINTS if self.HORIZONTAL_BREAKPOINTS is None else self.HORIZONTAL_BREAKPOINTS
        self.add_class(*self._get_breakpoint_classes(self.app.size.width, breakpoints or []), update=False)
        yield StatusBar()
        yield from self.compose_body()
        yield KeysFooter()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    def action_leave_field(self) -> None:
        """Escape: out of a text field, so that single-letter keys act again (while a field has
        the focus they are typed into it)."""
        self.set_focus(self.resting_focus())

    def resting_focus(self) -> Widget | None:
        """Where the focus goes when it leaves a field: nowhere, unless the screen has a main
        widget (a table to move in)."""
        return None

    _drawable = False

    def on_mount(self) -> None:
        """The widgets are mounted: draw now, so the screen's first paint already shows the
        data (drawing after that paint cost a second full paint before the market showed).
        The widgets were just styled: the first ``ScreenResume`` need not style them again."""
        self._styled_for = self._styles_depend_on()
        self._drawable = True
        self.draw(Changes.all())

    _styled_for: tuple[int, frozenset[str]] | None = None

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """Hidden screens are not redrawn, so the first frame after showing redraws everything.

        Textual also restyles the whole screen when it comes back (about 25 ms for Trade, a
        stall a trader feels when switching screens in a fast market). That is skipped when
        nothing styles depend on has changed since this screen was last styled: ``switch_mode``
        itself refreshes the CSS after a change of theme or stylesheet (Textual counts those
        updates), and the app's width-breakpoint classes are compared here.
        """
        styled_for = self._styles_depend_on()
        if styled_for == self._styled_for:
            event.refresh_styles = False
        self._styled_for = styled_for
        self.draw(Changes.all())

    def _styles_depend_on(self) -> tuple[int, frozenset[str]]:
        return self.app._css_update_count, frozenset(self.app.classes)  # noqa: SLF001

    def draw(self, changes: Changes) -> None:
        """The render clock's entry point: nothing is drawn before the widgets are mounted, and
        only the starting state until the engine is ready (there is nothing to read before)."""
        if not self._drawable:
            return
        if self.ot_app.is_ready:
            self.refresh_view(changes)
        else:
            self.show_starting()

    def show_starting(self) -> None:
        """The screen while the engine starts: the status bar says so."""
        self.query_one(StatusBar).show(Status(starting=True, screen=self.TITLE_TEXT))

    def refresh_view(self, changes: Changes) -> None:
        """Redraw what ``changes`` touched; subclasses draw their own widgets."""
        self.query_one(StatusBar).show(self.ot_app.status(self.TITLE_TEXT))
