"""OpenTradeApp: one event loop for the Textual interface and the trading core.

The Trade screen paints first, in a visible "engine starting" state; then a worker builds and
starts the engine (opening the storage, connecting the venue, reconciling), the market shows
once it is ready, and only then are the strategies and agents attached (importing them takes
longer than the rest of the start-up). Until the engine is ready every action that would reach
it (an order, a cancel, a close, the emergency stop, another screen) is refused with a message;
what is typed into the ticket meanwhile stays there. It renders on a clock: each frame drains
the bus subscription, turns the events into one ``Changes`` and lets only the visible main
screen redraw. Nothing waits on the venue inside a key handler; orders go out in workers and
come back as events. Keys go through a queue (``tui.keys``) that keeps them in order and holds
them until the first screen has painted; SIGINT and SIGTERM stop the app like ctrl+q
(``tui.shutdown``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import signal
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState

from core import collector
from core.models import RiskState, Side
from core.permissions import PermissionDenied
from core.plugins import registry
from core.redact import redact
from core.session import Session
from themes.registry import DEFAULT_THEME, STYLESHEET, builtin_themes, next_theme, theme_names
from tui.changes import Changes
from tui.commands_palette import OpenTradeCommands, PaletteCommand
from tui.format import show_price, show_size
from tui.keys import KeyProbe, KeyQueue
from tui.log_buffer import LogBuffer
from tui.painted_widgets import install as install_painted_widgets
from tui.prompt_paint import paint_now
from tui.screens.base import OpenTradeScreen
from tui.screens.confirm import ConfirmScreen
from tui.shutdown import StopSignals, exit_code
from tui.strip_cycles import install as install_acyclic_strips
from tui.unchanged_lines import install as install_unchanged_lines
from tui.widgets.status_bar import Status

if TYPE_CHECKING:
    from tui.feed import ChangeFeed

log = logging.getLogger(__name__)

#: the title of every refusal while the engine starts
STARTING = "Engine starting…"

# name -> the module under tui/screens and its screen class. A screen's module (its widgets,
# what it reads: the Reports screen's numpy) is imported on the first visit, not before the
# first frame.
MAIN_SCREENS: dict[str, tuple[str, str]] = {
    "trade": ("trade", "TradeScreen"),
    "positions": ("positions", "PositionsScreen"),
    "strategies": ("strategies", "StrategiesScreen"),
    "risk": ("risk", "RiskScreen"),
    "agents": ("agents", "AgentsScreen"),
    "log": ("log", "LogScreen"),
    "backtest": ("backtest", "BacktestScreen"),
    "reports": ("reports", "ReportsScreen"),
}


def main_screen(name: str) -> type[OpenTradeScreen]:
    """The class of the main screen ``name``, its module imported when first asked for."""
    module, attribute = MAIN_SCREENS[name]
    screen: type[OpenTradeScreen] = getattr(importlib.import_module(f"tui.screens.{module}"), attribute)
    return screen


def _build_screen(name: str) -> OpenTradeScreen:
    """A main screen for its mode's first visit. Textual refreshes every style of the app, twice,
    for a screen it has not styled yet, in case the stylesheet changed meanwhile; this one is
    styled with the current stylesheet as it mounts, so it is marked as styled (a change of
    theme after that still restyles it)."""
    screen = main_screen(name)()
    screen._css_update_count = screen.app._css_update_count  # noqa: SLF001
    return screen

STATE_SCREEN, STATE_MARKET, STATE_THEME = "ui.screen", "ui.market", "ui.theme"


class OpenTradeApp(App[None]):
    TITLE = "OpenTrade"
    CSS_PATH = [STYLESHEET]
    MODES: ClassVar[dict[str, Any]] = {name: partial(_build_screen, name) for name in MAIN_SCREENS}
    DEFAULT_MODE = "trade"  # the first screen, in its starting state until the engine is ready
    COMMANDS = App.COMMANDS | {OpenTradeCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show('trade')", "Trade", id="screen-trade", show=False),
        Binding("2", "show('positions')", "Positions", id="screen-positions", show=False),
        Binding("3", "show('strategies')", "Strategies", id="screen-strategies", show=False),
        Binding("4", "show('risk')", "Risk", id="screen-risk", show=False),
        Binding("5", "show('agents')", "Agents", id="screen-agents", show=False),
        Binding("6", "show('log')", "Log", id="screen-log", show=False),
        Binding("7", "show('backtest')", "Backtest", id="screen-backtest", show=False),
        Binding("8", "show('reports')", "Reports", id="screen-reports", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("ctrl+t", "cycle_theme", "Theme", id="cycle-theme", show=False),
        Binding("ctrl+k", "emergency_stop", "E-STOP", priority=True, id="emergency-stop"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        theme: str | None = None,
        screen: str | None = None,
        restore: bool = True,
        confirm_live: bool = True,
        freeze_gc: bool = False,
        stop_signals: StopSignals | None = None,
    ) -> None:
        """``session``: the engine in this process (``runtime.session.LocalSession``) or a gateway's
        (``client.session.RemoteSession``); the screens see only the ``core.session.Session``. What
        the session starts after the first screen (the strategies and agents of an in-process
        engine) starts once that screen has painted.

        ``stop_signals``: SIGINT and SIGTERM (including one received before the app ran) stop
        the app as ctrl+q does, with the exit code ``tui.shutdown.exit_code`` gives.

        ``freeze_gc``: once started, everything built so far is moved out of the garbage
        collector's passes, its young generation is collected less often (``core.collector``)
        and the collector is turned on, in case the command paused it for
        the start-up (see ``_started``)."""
        install_acyclic_strips()
        install_unchanged_lines()
        install_painted_widgets()
        super().__init__()
        self.session = session
        self._started_session = False
        self._feed: ChangeFeed | None = None
        self._requested_theme = theme
        self._requested_screen = screen
        self._restore = restore
        self._confirm_live = confirm_live
        self._freeze_gc = freeze_gc
        self._stop_signals = stop_signals
        self._starting: asyncio.Future[None] | None = None
        self._confirmed_live: set[str] = set()
        self.market: tuple[str, str] = ("", "")
        self.frames = 0
        self.log_buffer = LogBuffer()
        self._engine_ready = False
        self._built_modes = {self.DEFAULT_MODE}
        self._paint_at_once = False
        self._first_painted = False
        self._asking_to_quit = False
        self._keys = KeyQueue(self, self._route_key, self._taking_keys)

    # ------------------------------------------------------------------ start-up
    @property
    def engine(self) -> Any:
        """The in-process engine, for tests that act on it directly; the screens use ``session``."""
        return self.session.engine  # type: ignore[attr-defined]  # the in-process sessions have one

    @property
    def is_ready(self) -> bool:
        """The engine runs and the market to show is chosen (and, on a live venue, confirmed)."""
        return self._engine_ready

    def refused_while_starting(self, what: str) -> bool:
        """True, after telling the trader, when the engine is not ready for ``what``: nothing is
        held back to be done later, the trader asks again once it is ready."""
        if self._engine_ready:
            return False
        self.notify(f"{what}: refused, the engine is still starting; nothing was done.", title=STARTING,
                    severity="warning", timeout=4)
        return True

    @property
    def services_ready(self) -> bool:
        """The strategies and agents run: at once when the engine factory built them, else a
        moment after the first screen."""
        return self.is_ready and self.session.services_started

    def on_load(self) -> None:
        """The themes, before the first screen is composed and styled."""
        for theme in builtin_themes():
            self.register_theme(theme)
        self.theme = _known_theme(self._requested_theme)

    def on_mount(self) -> None:
        logging.getLogger().addHandler(self.log_buffer)
        self.screen_change_signal.subscribe(self, lambda _screen: self._keys.screen_changed(), immediate=True)
        if self._stop_signals is not None:
            self._stop_signals.attach(self._stop_by_signal)
        if self.return_code is None:
            self._boot()

    def _stop_by_signal(self, signum: int) -> None:
        log.warning("stopping on %s", signal.Signals(signum).name)
        self.exit(return_code=exit_code(signum), message=f"OpenTrade stopped by {signal.Signals(signum).name}.")

    @work(exclusive=True, group="boot", exit_on_error=False)
    async def _boot(self) -> None:
        # The Trade screen, in its starting state, painted before any of the engine's work.
        painted = asyncio.get_running_loop().create_future()
        self.call_after_refresh(painted.set_result, None)
        await painted
        self._first_painted = True
        self._keys.screen_changed()  # the keys typed so far go to it now
        # Not cancelled half-way when the app stops meanwhile (a signal, ctrl+q): unmounting waits
        # for it, then stops and closes everything it opened.
        session = self.session
        self._starting = asyncio.ensure_future(session.start())
        await asyncio.shield(self._starting)
        self._started_session = True
        from tui.feed import ChangeFeed  # the engine's events: the first frame has none to read

        self._feed = ChangeFeed(session)
        saved = {key: await session.get_state(key) for key in (STATE_SCREEN, STATE_MARKET, STATE_THEME)} if self._restore else {}
        self.theme = _known_theme(self._requested_theme or saved.get(STATE_THEME) or session.ui.theme)
        self.set_keymap(session.ui.keymap)
        self.market = self._initial_market(session, saved.get(STATE_MARKET))
        session.watch_market(*self.market)
        venue = self.market[0]
        if self._confirm_live and session.venue_mode(venue) == "live" and not await self._confirm_live_venue(venue):
            self.exit(return_code=1, message=f"Did not switch to live trading on {venue}.")
            return
        self._engine_ready = True
        self.set_interval(1 / session.ui.refresh_hz, self.render_frame, name="render-clock")
        mode = self._requested_screen or saved.get(STATE_SCREEN) or "trade"
        mode = mode if mode in MAIN_SCREENS else "trade"
        screen = self.screen
        if mode == self.current_mode and isinstance(screen, OpenTradeScreen):
            screen.draw(Changes.all())  # the starting state gives way to the market
        else:
            await self.switch_mode(mode)  # the screen the trader left last time, drawn as it mounts
        if session.attached:
            self.notify(f"Attached to the engine at {session.where}: quitting leaves it trading.", title="Attached")
        if not session.services_started:
            self.call_after_refresh(self._start_services)
        else:
            self._started()

    @work(exclusive=True, group="services", exit_on_error=False, name="starting the strategies and agents")
    async def _start_services(self) -> None:
        """Runs after the first screen has painted, so the trader sees the market while the
        strategies and agents are imported and started."""
        await self.session.start_services()
        for failure in registry().failures():
            self.notify(failure, title="Plugin skipped", severity="error", timeout=30)
        self._started()
        screen = self.screen
        if isinstance(screen, OpenTradeScreen):
            screen.draw(Changes.all())

    def _started(self) -> None:
        """The end of the start-up. Everything built so far lives as long as the app: keeping it
        out of the collector's full passes removes 80-100 ms pauses that otherwise hit the loop
        while data streams. The trade command runs the start-up with the collector off (its
        passes over those same objects cost about 0.15 s of the first frame); it is turned back
        on here. The start-up's garbage (about 25,000 objects) is frozen with the rest rather
        than collected first: that collection was one more pass over everything, a 0.1 s stall
        of keys and frames right after the start, to save about 0.5 MB of resident memory."""
        if self._freeze_gc:
            collector.settle()
            gc.enable()

    @staticmethod
    def _initial_market(session: Session, saved: str | None) -> tuple[str, str]:
        """The saved market when its venue is still running and still lists it, else the first
        market of the default venue."""
        if saved and "|" in saved:
            venue, symbol = saved.split("|", 1)
            if venue in session.venue_names and any(i.symbol == symbol for i in session.instruments(venue)):
                return venue, symbol
        venue = session.default_venue
        instruments = session.instruments(venue)
        if not instruments:
            raise RuntimeError(f"venue {venue} lists no markets")
        return venue, instruments[0].symbol

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed background job becomes a message to the trader."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group in ("boot", "services"):
            log.error("start-up failed: %s", error, exc_info=error)
            self.exit(return_code=2, message=f"OpenTrade could not start: {redact(str(error))}")
            return
        from core.executor import OrderRefused  # with the engine: it is not needed for the first frame

        if isinstance(error, OrderRefused):
            self.notify(str(error.reason), title="Refused", severity="error")
            return
        log.error("%s failed: %s", event.worker.name, error, exc_info=error)
        self.notify(str(error) or type(error).__name__, title=f"{event.worker.name} failed", severity="error")

    async def on_unmount(self) -> None:
        # Workers are cancelled only after this: a start-up still under way must not go on
        # to open screens or start strategies on an engine that is being closed.
        for group in ("boot", "services"):
            self.workers.cancel_group(self, group)
        logging.getLogger().removeHandler(self.log_buffer)
        if self._feed is not None:
            self._feed.close()
        if self._starting is not None:
            with contextlib.suppress(Exception):  # a failed start was reported by the boot worker
                await self._starting
        await self.session.close()

    # ------------------------------------------------------------------ rendering
    def render_frame(self) -> None:
        """One frame: drain the bus, announce fills and alerts, redraw the visible main screen."""
        if not self.is_running or self._feed is None:  # shutting down, or nothing streams yet
            return
        changes = self._feed.drain()
        self.frames += 1
        self._announce(changes)
        screen = self.screen
        if isinstance(screen, OpenTradeScreen):
            with self.batch_update():
                screen.draw(changes)

    def _announce(self, changes: Changes) -> None:
        for event in changes.fills:
            fill = event.fill
            market = next((i for i in self.session.instruments(fill.venue) if i.symbol == fill.symbol), None)
            self.notify(f"{fill.side.value.upper()} {show_size(market, fill.size)} {fill.symbol} @ "
                        f"{show_price(market, fill.price)}", title="Filled", timeout=4)
        for rejection in changes.rejections:
            self.notify(rejection.reason, title=f"Rejected {rejection.symbol}", severity="error")
        for alert in changes.alerts:
            if alert.level != "info":
                self.notify(alert.message, title=f"Risk: {alert.rule}",
                            severity="error" if alert.level == "critical" else "warning")

    def status(self, screen_title: str) -> Status:
        """The status line. While the link to an attached engine is down, its connection word
        says so ("reconnecting") in place of the venue's, whose state is not known meanwhile."""
        session = self.session
        venue = self.market[0]
        state, latency = session.connection(venue)
        link = session.connection_state
        if link != "connected":
            state, latency = link, None
        orders_today, max_orders = session.orders_today()
        return Status(
            venue=venue,
            mode=session.venue_mode(venue),
            equity=session.equity(),
            daily_pnl=session.daily_pnl(),
            connection=state,
            latency_ms=latency,
            risk=session.risk_state,
            halted_by_person=session.halted_by_person,
            blockers=tuple(rule for rule, _ in session.blockers()),
            orders_today=orders_today,
            max_orders=max_orders,
            now_ms=session.now_ms(),
            screen=screen_title,
        )

    # ------------------------------------------------------------------ state
    def remember(self, key: str, value: str) -> None:
        if self._started_session:
            self.run_worker(self.session.set_state(key, value), group="state", name="saving the UI state")

    async def select_market(self, venue: str, symbol: str) -> bool:
        """Switch the market on display; a live venue first asks for its name to be typed."""
        if self.session.venue_mode(venue) == "live" and not await self._confirm_live_venue(venue):
            return False
        self.market = (venue, symbol)
        self.session.watch_market(venue, symbol)
        self.remember(STATE_MARKET, f"{venue}|{symbol}")
        screen = self.screen
        if isinstance(screen, OpenTradeScreen):
            screen.draw(Changes.all())
        return True

    async def _confirm_live_venue(self, venue: str) -> bool:
        if venue in self._confirmed_live:
            return True
        confirmed = await self.push_screen_wait(
            ConfirmScreen(
                f"Switch to LIVE trading on {venue}",
                f"Orders on {venue} use real money on the exchange. Type the venue name to continue.",
                confirm_label="Go live",
                require_text=venue,
                danger=True,
            )
        )
        if confirmed:
            self._confirmed_live.add(venue)
            self.session.confirm_live(venue)
        return bool(confirmed)

    # ------------------------------------------------------------------ actions
    def switch_mode(self, mode: str) -> AwaitMount:
        """Textual holds every paint for 50 ms when the mode changes, to hide the new screen
        while it is built. A main screen is built on its first visit and kept, so later
        switches paint at once instead of leaving the trader looking at the old screen."""
        self._paint_at_once = mode in self._built_modes
        try:
            mounted = super().switch_mode(mode)
        finally:
            self._paint_at_once = False
        self._built_modes.add(mode)
        return mounted

    def delay_update(self, delay: float = 0.05) -> None:
        if not self._paint_at_once:
            super().delay_update(delay)

    async def action_show(self, mode: str) -> None:
        if mode not in MAIN_SCREENS or (mode != self.current_mode and self.refused_while_starting("Another screen")):
            return
        if self.current_mode != mode:
            await self.switch_mode(mode)
        self.remember(STATE_SCREEN, mode)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_sections()))

    def action_cycle_theme(self) -> None:
        self.set_theme(next_theme(self.theme))

    def set_theme(self, name: str) -> None:
        self.theme = name
        self.remember(STATE_THEME, name)
        self.notify(f"Theme: {name}", timeout=2)

    def action_choose_market(self) -> None:
        if not self.refused_while_starting("Choosing a market"):
            self._choose_market()

    @work(group="market", exclusive=True, exit_on_error=False, name="choosing a market")
    async def _choose_market(self) -> None:
        from tui.screens.market_selector import MarketRow, MarketSelectorScreen

        session = self.session
        markets = [MarketRow(venue, i.symbol, session.venue_mode(venue), i.price_decimals, session.ticker(venue, i.symbol))
                   for venue in session.venue_names for i in session.instruments(venue)]
        choice = await self.push_screen_wait(MarketSelectorScreen(markets, current=self.market))
        if choice is not None:
            await self.select_market(*choice)

    def action_emergency_stop(self) -> None:
        if not self.refused_while_starting("Emergency stop"):
            self._emergency_stop()

    @work(group="risk", exclusive=True, exit_on_error=False, name="emergency stop")
    async def _emergency_stop(self) -> None:
        session = self.session
        orders = len(session.open_orders())
        positions = len(session.positions())
        confirmed = await self.push_screen_wait(
            ConfirmScreen(
                "EMERGENCY STOP",
                f"Halts all trading on every venue, cancels {orders} open order(s) and closes "
                f"{positions} position(s) at market. Trading stays halted until you reset it on the Risk screen.",
                confirm_label="STOP EVERYTHING",
                danger=True,
            )
        )
        if confirmed:
            await session.emergency_stop("emergency stop from the terminal")
            self.notify("Trading halted; orders canceled and positions closing.", title="EMERGENCY STOP", severity="error")

    def action_cancel_all(self) -> None:
        if not self.refused_while_starting("Cancel all orders"):
            self._cancel_every_order()

    @work(group="orders", exclusive=True, exit_on_error=False, name="canceling all orders")
    async def _cancel_every_order(self) -> None:
        count = len(self.session.open_orders())
        if count == 0:
            self.notify("No open orders.")
            return
        refusal = await self.session.check_cancel()
        if refusal is not None:
            self.notify(refusal.reason, title="Refused", severity="error")
            return
        if await self.push_screen_wait(
            ConfirmScreen("Cancel all orders", f"Cancel all {count} open order(s) on every venue.", confirm_label="Cancel all", danger=True)
        ):
            canceled = await self.session.cancel_all()
            self.notify(f"Canceled {canceled} order(s).", title="Cancel all")

    def action_close_all(self) -> None:
        if not self.refused_while_starting("Close all positions"):
            self._close_every_position()

    @work(group="orders", exclusive=True, exit_on_error=False, name="closing all positions")
    async def _close_every_position(self) -> None:
        session = self.session
        positions = session.positions()
        if not positions:
            self.notify("No open positions.")
            return
        accepted: list[str] = []
        refused: list[str] = []
        for p in positions:
            request = session.closing_request(p.venue, p.symbol)
            refusal = await session.check_order(request) if request is not None else None
            shown = f"{p.side.value} {show_size(session.instrument(p.venue, p.symbol), p.size)} {p.symbol}"
            (accepted if refusal is None else refused).append(shown if refusal is None else f"{shown}: {refusal.reason}")
        if not accepted:
            self.notify("\n".join(refused), title="Close all refused", severity="error")
            return
        not_closed = f"\nWould be refused, so not asked: {'; '.join(refused)}." if refused else ""
        if await self.push_screen_wait(
            ConfirmScreen("Close all positions",
                          f"Send market orders to close {len(accepted)} position(s): {', '.join(accepted)}.{not_closed}",
                          confirm_label="Close all", danger=True)
        ):
            closed = await self.session.close_all()
            self.notify(f"Sent {closed} closing order(s).", title="Close all")

    def action_reset_risk(self) -> None:
        if not self.refused_while_starting("Risk reset"):
            self._reset_risk()

    @work(group="risk", exclusive=True, exit_on_error=False, name="risk reset")
    async def _reset_risk(self) -> None:
        session = self.session
        tripped = session.tripped_breakers()
        if session.risk_state is RiskState.ACTIVE and not tripped:
            self.notify("Trading is not halted; nothing to reset.")
            return
        breakers = "".join(f"\n  breaker {scope}: {reason}" for scope, reason in tripped)
        confirmed = await self.push_screen_wait(
            ConfirmScreen(
                "Reset risk state",
                f"Moves the risk state from {session.risk_state.value.upper()} to ACTIVE and resets the "
                f"circuit breakers: new orders will be accepted again.{breakers}",
                confirm_label="Resume trading",
            )
        )
        if not confirmed:
            return
        try:
            await session.reset_risk()
        except PermissionDenied as exc:
            self.notify(str(exc), title="Not allowed", severity="error")
            return
        self.notify("Risk state reset: trading is active.")

    async def action_quit(self) -> None:
        """Quit at once, unless engine-side levels of an in-process engine are active: nothing
        watches them once the app has stopped, so the trader is told which and asked first. An
        attached app quits at once: the gateway goes on trading and watching them."""
        watched = self.session.watched_levels() if self._started_session and not self.session.attached else []
        if not watched:
            self.exit()
        elif not self._asking_to_quit:
            self._confirm_quit()

    @work(group="quit", exclusive=True, exit_on_error=False, name="quitting")
    async def _confirm_quit(self) -> None:
        self._asking_to_quit = True
        try:
            watched = self.session.watched_levels()
            count = sum((lv.stop_loss is not None) + (lv.take_profit is not None) for lv in watched)
            listing = "\n".join(
                f"  {lv.symbol} {lv.side.value} on {lv.venue}: "
                + ", ".join(f"{name} {show_price(self.session.instrument(lv.venue, lv.symbol), price)}"
                            for name, price in (("stop-loss", lv.stop_loss), ("take-profit", lv.take_profit))
                            if price is not None)
                for lv in watched
            )
            confirmed = await self.push_screen_wait(ConfirmScreen(
                "Quit: engine-side levels stop being watched",
                f"{count} engine-side level(s) on {len(watched)} position(s) will stop being watched when OpenTrade "
                f"quits; nothing will close these positions at them until it runs again:\n{listing}",
                confirm_label="Quit anyway", danger=True,
            ))
        finally:
            self._asking_to_quit = False
        if confirmed:
            self.exit()

    # ------------------------------------------------------------------ keys and commands
    async def on_event(self, event: events.Event) -> None:
        """Every key read from the terminal goes through the key queue (``tui.keys``), except
        the quit key: leaving is never held up, not even while the app starts."""
        if isinstance(event, events.Key) and not event.is_forwarded and not self._quits(event.key):
            await self._keys.push(event)
            return
        await super().on_event(event)

    async def _route_key(self, event: events.Key) -> None:
        await super().on_event(event)

    @property
    def keys_idle(self) -> bool:
        """Every key read so far has been handled."""
        return self._keys.idle

    def _quits(self, key: str) -> bool:
        active = self.screen.active_bindings.get(key)
        return active is not None and active.binding.action in ("quit", "app.quit")

    def _taking_keys(self) -> bool:
        """Keys wait until the Trade screen has painted (the boot worker then lets them through:
        see ``_boot``); from there the screen on top takes them, the engine started or not."""
        return self._first_painted

    @on(KeyProbe)
    def _key_probe_returned(self, probe: KeyProbe) -> None:
        # After the callbacks the key's handlers queued on the app (a focus change, for one).
        self.call_later(self._key_returned, probe.seq)

    async def _key_returned(self, seq: int) -> None:
        """Once the last key typed has done its work, its effect is painted at once instead of
        on the screen's next frame tick (``tui.prompt_paint``)."""
        await self._keys.returned(seq)
        if self._keys.idle:
            paint_now(self.screen)

    def key_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every key, grouped: the global ones, then each screen's."""
        from tui.screens.edit_order import EditOrderScreen
        from tui.screens.edit_params import EditParamsScreen
        from tui.screens.edit_protection import EditProtectionScreen
        from tui.screens.market_selector import MarketSelectorScreen

        sections = [("Everywhere", self._describe([*self.BINDINGS, *OpenTradeScreen.BINDINGS]))]
        titled: list[tuple[str, list[BindingType]]] = [
            *((screen.TITLE_TEXT, screen.BINDINGS) for screen in map(main_screen, MAIN_SCREENS)),
            *((dialog.HELP_TITLE, dialog.BINDINGS) for dialog in (MarketSelectorScreen, ConfirmScreen, EditOrderScreen,
                                                                   EditParamsScreen, EditProtectionScreen)),
        ]
        for title, bindings in titled:
            rows = self._describe(bindings)
            if rows:
                sections.append((title, rows))
        return sections

    def _describe(self, bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
        rows = []
        for binding in bindings:
            if isinstance(binding, Binding) and binding.description:
                keys = " / ".join(self.get_key_display(Binding(key, "")) for key in binding.key.split(","))
                rows.append((keys, binding.description))
        return rows

    def palette_commands(self, screen: Any) -> Iterable[PaletteCommand]:
        """Every action reachable from ``screen``: its keys, the screens, markets and themes."""
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.description and binding.action not in ("command_palette",):
                node = active.node
                yield PaletteCommand(binding.description, f"key: {self.get_key_display(binding)}",
                                     partial(node.run_action, binding.action))
        for name in MAIN_SCREENS:
            yield PaletteCommand(f"Go to {main_screen(name).TITLE_TEXT}", "screen", partial(self.action_show, name))
        yield PaletteCommand("Emergency stop", "halt, cancel all, close all", self.action_emergency_stop)
        yield PaletteCommand("Reset risk state", "resume trading after a halt", self.action_reset_risk)
        yield PaletteCommand("Cancel all orders", "every venue, after confirmation", self.action_cancel_all)
        yield PaletteCommand("Close all positions", "market orders, after confirmation", self.action_close_all)
        yield PaletteCommand("Choose market", "fuzzy search", self.action_choose_market)
        if self.is_ready:
            for venue in self.session.venue_names:
                for instrument in self.session.instruments(venue):
                    yield PaletteCommand(f"Market {instrument.symbol} on {venue}", "switch market",
                                         partial(self._select_from_palette, venue, instrument.symbol))
        for name in theme_names():
            yield PaletteCommand(f"Theme {name}", "change colours", partial(self.set_theme, name))
        for side in Side:
            yield PaletteCommand(f"Ticket side {side.value}", "order ticket", partial(self._ticket_side, side))

    def _select_from_palette(self, venue: str, symbol: str) -> None:
        self.run_worker(self.select_market(venue, symbol), group="market", exclusive=True, name="choosing a market")

    async def _ticket_side(self, side: Side) -> None:
        from tui.screens.trade import TradeScreen

        await self.action_show("trade")
        screen = self.screen
        if isinstance(screen, TradeScreen):
            screen.set_side(side)


def _known_theme(name: str | None) -> str:
    """A saved or configured theme that no longer exists falls back to the default."""
    return name if name in theme_names() else DEFAULT_THEME


