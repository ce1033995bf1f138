"""What each bot command and button does, through the gateway's own endpoints.

A command calls the endpoint the REST API serves for it (``Endpoint.invoke``: the same
authorization, engine call and audit), as the chat's actor. A command that changes anything is
first checked (the endpoint's permission, and for /close the whole pre-trade check of the
closing order), so a refusal is told at once with the app's reason; only then is the
question asked, and Confirm runs the endpoint, once, within 60 s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from core.api import ClosePosition, EmergencyStop, OrdersQuery, VenueQuery
from core.permissions import Actor
from gateway.errors import problem_of
from gateway.routes import endpoint
from gateway.telegram import render
from gateway.telegram.confirm import CANCEL, CONFIRM, Answered, Confirmations
from gateway.telegram.pnl import PERIODS, strategy_pnl

if TYPE_CHECKING:
    from core.engine import TradingEngine
    from core.models import Order
    from core.strategies.info import StrategyInfo
    from core.views import RiskView
    from gateway.stream import StreamHub

log = logging.getLogger(__name__)

STATUS = "status"  # the callback data of the Status button (also under alerts)
MAX_CALLBACK_BYTES = 64  # Telegram's limit on a button's callback data
HELP = [
    ("status", "", "equity, today's P&amp;L, risk state, venues"),
    ("positions", " [VENUE]", "open positions with their protective levels"),
    ("orders", " [VENUE]", "open orders"),
    ("balance", " [VENUE]", "balances per venue"),
    ("pnl", " [day|week]", "P&amp;L by strategy"),
    ("strategies", "", "strategies, with Start and Stop buttons (trade)"),
    ("close", " SYMBOL [VENUE]", "close a position at market (trade)"),
    ("stop", " [reason]", "EMERGENCY STOP: halt, cancel every order, close every position (trade)"),
    ("resume", "", "trade again after a halt (admin)"),
]

Button = tuple[str, str]  # label, callback data


@dataclass(frozen=True)
class Chat:
    id: int
    actor: Actor


@dataclass
class Reply:
    text: str  # HTML
    buttons: list[list[Button]] = field(default_factory=list)


@dataclass
class Pressed:
    """The answer to a button: a short notice over the chat, and a new text for the message
    whose button was pressed (its buttons removed) or a new message."""

    notice: str
    edit: str | None = None
    reply: Reply | None = None


class Usage(Exception):
    """A command given the wrong arguments; the text says how to give them."""


def _venue(args: list[str]) -> str | None:
    """The one optional argument of /positions, /orders and /balance: a venue."""
    if len(args) > 1:
        raise Usage("Give at most one venue, e.g. /positions paper")
    return args[0] if args else None


def refusal(exc: Exception) -> str:
    """The app's reason for a refusal, or a line pointing at the log for a bug."""
    if isinstance(exc, Usage):
        return escape(str(exc))
    problem = problem_of(exc)
    if problem is None:
        log.error("a Telegram command failed", exc_info=exc)
        return "Failed: the gateway's log says why."
    label = {403: "Not allowed", 404: "Not found", 400: "Invalid", 503: "Unavailable"}.get(problem.status, "Refused")
    return f"{label}: {escape(problem.reason)}"


class Commands:
    def __init__(self, engine: TradingEngine, hub: StreamHub, confirmations: Confirmations) -> None:
        self.engine = engine
        self.hub = hub
        self.confirmations = confirmations
        self._commands: dict[str, Callable[[Chat, list[str]], Awaitable[Reply]]] = {
            "start": self.help, "help": self.help, "status": self.status, "positions": self.positions,
            "orders": self.orders, "balance": self.balance, "pnl": self.pnl, "strategies": self.strategies,
            "close": self.close, "stop": self.stop, "resume": self.resume,
        }

    @property
    def names(self) -> list[str]:
        return list(self._commands)

    async def run(self, chat: Chat, name: str, args: list[str]) -> Reply:
        try:
            return await self._commands[name](chat, args)
        except Exception as exc:  # noqa: BLE001 - every refusal gets its reason, a bug a line
            return Reply(refusal(exc))

    async def _call(self, chat: Chat, method: str, path: str, *, body: Any = None, query: Any = None,
                    params: dict[str, str] | None = None) -> Any:
        return await endpoint(method, path).invoke(self.engine, self.hub, chat.actor, body, query, params)

    def _ask(self, chat: Chat, command: str, question: str, what: str, run: Callable[[], Awaitable[str]]) -> Reply:
        nonce = self.confirmations.ask(chat.id, command, what, run)
        return Reply(f"{question}\nConfirm within {self.confirmations.seconds} s.",
                     [[("Confirm", f"{CONFIRM}:{nonce}"), ("Cancel", f"{CANCEL}:{nonce}")]])

    # ----------------------------------------------------------------------------- reads

    async def help(self, chat: Chat, args: list[str]) -> Reply:
        level = self.engine.guard.permissions.level_of(chat.actor)
        lines = [f"/{name}{usage} — {text}" for name, usage, text in HELP]
        lines.append(f"\nThis chat acts as <code>{escape(chat.actor)}</code> at the <b>{level.label}</b> level; "
                     "every change asks for a confirmation.")
        return Reply("\n".join(lines))

    async def status(self, chat: Chat, args: list[str]) -> Reply:
        return Reply(render.status(await self._call(chat, "GET", "/status")), [[("Refresh", STATUS)]])

    async def positions(self, chat: Chat, args: list[str]) -> Reply:
        views = await self._call(chat, "GET", "/positions", query=VenueQuery(venue=_venue(args)))
        return Reply(render.positions(views, self.engine.portfolio.quote_currency))

    async def orders(self, chat: Chat, args: list[str]) -> Reply:
        return Reply(render.orders(await self._call(chat, "GET", "/orders", query=OrdersQuery(venue=_venue(args)))))

    async def balance(self, chat: Chat, args: list[str]) -> Reply:
        return Reply(render.balances(await self._call(chat, "GET", "/balances", query=VenueQuery(venue=_venue(args)))))

    async def pnl(self, chat: Chat, args: list[str]) -> Reply:
        period = args[0] if args else "day"
        if len(args) > 1 or period not in PERIODS:
            return Reply("Usage: /pnl [day|week] (day by default)")
        rows, total = await strategy_pnl(self.engine, period)
        return Reply(render.pnl(rows, total, period, self.engine.portfolio.quote_currency))

    async def strategies(self, chat: Chat, args: list[str]) -> Reply:
        infos: list[StrategyInfo] = await self._call(chat, "GET", "/strategies")
        buttons = []
        for info in infos:
            verb = "stop" if info.state == "running" else "start"
            data = f"{verb}:{info.strategy_id}"
            if len(data.encode()) <= MAX_CALLBACK_BYTES:
                buttons.append([(f"{verb.capitalize()} {info.strategy_id}", data)])
        return Reply(render.strategies(infos), buttons)

    # --------------------------------------------------------------------------- changes

    async def close(self, chat: Chat, args: list[str]) -> Reply:
        if not 1 <= len(args) <= 2:
            return Reply("Usage: /close SYMBOL [VENUE], e.g. /close BTC/USDT")
        symbol, venue = args[0], args[1] if len(args) > 1 else self.engine.default_venue
        close = endpoint("POST", "/positions/close")
        await close.authorize(self.engine, chat.actor)
        if venue not in self.engine.venues:
            return Reply(f"Not found: venue '{escape(venue)}' is not configured; configured: "
                         f"{escape(', '.join(self.engine.venue_names))}")
        position = self.engine.position(venue, symbol)
        request = self.engine.executor.closing_request(venue, symbol)
        if request is None or position is None:
            return Reply(f"Nothing to close: no open {escape(symbol)} position on {escape(venue)}.")
        verdict = self.engine.executor.precheck(request, actor=chat.actor)
        if verdict is not None:
            return Reply(f"Refused: {escape(verdict.reason)}")
        mark = render.amount(position.mark_price) if position.mark_price is not None else "-"
        what = f"close {symbol} on {venue}"
        question = (f"Close the {escape(symbol)} {position.side.value} position of {render.amount(position.size)} on "
                    f"{escape(venue)} with a market {request.side.value} of {render.amount(request.size)} (mark {mark}, "
                    f"uPnL {render.money(position.unrealized_pnl, True)} {self.engine.portfolio.quote_currency})?")

        async def run() -> str:
            order: Order = await close.invoke(self.engine, self.hub, chat.actor, ClosePosition(venue=venue, symbol=symbol,
                                                                                             size=request.size))
            return (f"Closing order {order.side.value} {render.amount(order.size)} {escape(order.symbol)}: "
                    f"{order.status.value}, filled {render.amount(order.filled_size)}")

        return self._ask(chat, "close", question, what, run)

    async def stop(self, chat: Chat, args: list[str]) -> Reply:
        body = EmergencyStop(reason=" ".join(args) or f"emergency stop from Telegram chat {chat.id}")
        halt = endpoint("POST", "/risk/emergency-stop")
        await halt.authorize(self.engine, chat.actor)
        orders, positions = len(self.engine.open_orders()), len(self.engine.portfolio.positions())
        question = (f"<b>EMERGENCY STOP</b> ({escape(body.reason)}): halt trading, cancel every open order ({orders}) "
                    f"and close every position ({positions}). Trading stays halted until an admin sends /resume.")

        async def run() -> str:
            return render.risk(await halt.invoke(self.engine, self.hub, chat.actor, body))

        return self._ask(chat, "stop", question, "the emergency stop", run)

    async def resume(self, chat: Chat, args: list[str]) -> Reply:
        reset = endpoint("POST", "/risk/reset")
        await reset.authorize(self.engine, chat.actor)
        risk = self.engine.risk
        reason = f": {escape(risk.state_reason)}" if risk.state_reason else ""
        question = (f"Reset the risk state ({risk.state.value.upper()}{reason}) and the "
                    f"{len(self.engine.guard.breakers.tripped)} tripped circuit breaker(s), and trade again?")

        async def run() -> str:
            view: RiskView = await reset.invoke(self.engine, self.hub, chat.actor)
            return render.risk(view)

        return self._ask(chat, "resume", question, "the risk reset", run)

    async def switch(self, chat: Chat, verb: str, strategy_id: str) -> Reply:
        """The question behind a strategy's Start or Stop button."""
        params = {"strategy_id": strategy_id}
        switch = endpoint("POST", f"/strategies/{{strategy_id}}/{verb}")
        await switch.authorize(self.engine, chat.actor)
        info: StrategyInfo = await self._call(chat, "GET", "/strategies/{strategy_id}", params=params)
        question = (f"Start the strategy {escape(info.strategy_id)} ({escape(info.kind)}) on {escape(info.venue)} "
                    f"{escape(', '.join(info.symbols))}?" if verb == "start" else
                    f"Stop the strategy {escape(info.strategy_id)}? Its open orders stay.")

        async def run() -> str:
            done: StrategyInfo = await switch.invoke(self.engine, self.hub, chat.actor, params=params)
            return f"Strategy {escape(done.strategy_id)} is {escape(done.state)}."

        return self._ask(chat, f"strategy {verb}", question, f"{verb} {strategy_id}", run)

    # --------------------------------------------------------------------------- buttons

    async def press(self, chat: Chat, data: str, audit: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> Pressed:
        """A button: Confirm or Cancel of a question, Status, or a strategy's Start or Stop.
        ``audit`` records a confirmation in the chat's name before its command runs."""
        kind, _, rest = data.partition(":")
        try:
            if data == STATUS:
                return Pressed("", reply=await self.status(chat, []))
            if kind in ("start", "stop") and rest:
                return Pressed("", reply=await self.switch(chat, kind, rest))
            if kind in (CONFIRM, CANCEL) and rest:
                return await self._answer(chat, rest, kind == CONFIRM, audit)
        except Exception as exc:  # noqa: BLE001 - every refusal gets its reason, a bug a line
            text = refusal(exc)
            return Pressed(text[:200], reply=Reply(text))
        return Pressed("This button is not one of the bot's.")

    async def _answer(self, chat: Chat, nonce: str, confirmed: bool,
                      audit: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> Pressed:
        taken = self.confirmations.take(nonce, chat.id, confirmed=confirmed)
        if isinstance(taken, Answered):
            return _closed(taken, self.confirmations.seconds)
        if not confirmed:
            return Pressed("Canceled", edit=f"Canceled: {escape(taken.what)}. Nothing was done.")
        await audit("telegram_confirmed", {"command": taken.command, "what": taken.what})
        try:
            result = await taken.run()
        except Exception as exc:  # noqa: BLE001 - every refusal gets its reason, a bug a line
            text = refusal(exc)
            return Pressed(text[:200], edit=f"Confirmed: {escape(taken.what)}.\n{text}")
        return Pressed("Done", edit=f"Confirmed: {escape(taken.what)}.\n{result}")


def _closed(answered: Answered, seconds: int) -> Pressed:
    what = escape(answered.what or "")
    if answered.how == "expired":
        return Pressed("Expired: nothing was done",
                       edit=f"Expired: {what} was not done (no confirmation within {seconds} s). Send the command again.")
    if answered.how == "confirmed":
        return Pressed(f"Already confirmed: {what} was done once")
    if answered.how == "canceled":
        return Pressed(f"Already canceled: {what} was not done")
    return Pressed("This question is no longer open (asked before the gateway restarted?): nothing was done",
                   edit="This question is no longer open: nothing was done. Send the command again.")
