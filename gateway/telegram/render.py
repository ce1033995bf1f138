"""The gateway's views as short Telegram messages (HTML, since names and reasons are escaped
once here): a few lines per thing, readable on a phone, never over Telegram's 4096 characters."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from core.models import Order
from core.strategies.info import StrategyInfo
from core.views import PositionView, RiskView, StatusView, VenueBalances
from gateway.telegram.pnl import StrategyPnl

MAX_TEXT = 4096


def money(value: Decimal, signed: bool = False) -> str:
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def amount(value: Decimal) -> str:
    """A size or price as given, without trailing zeros or an exponent."""
    return f"{value.normalize():f}"


def fit(lines: list[str], more: str = "more") -> str:
    """The lines that fit in one message, and how many did not."""
    text = "\n".join(lines)
    if len(text) <= MAX_TEXT:
        return text
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        tail = f"\n… and {len(lines) - index} {more}"
        if size + len(line) + 1 + len(tail) > MAX_TEXT:
            return "\n".join(kept) + tail
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def status(view: StatusView) -> str:
    q = view.quote_currency
    lines = [
        f"<b>Engine {escape(view.engine)}</b> (default venue {escape(view.default_venue)})",
        f"Equity {money(view.equity)} {q} · today {money(view.daily_pnl, True)} {q}",
        f"Risk <b>{view.risk_state.value.upper()}</b>" + (f": {escape(view.risk_reason)}" if view.risk_reason else ""),
    ]
    for venue in view.venues:
        latency = f", {venue.latency_ms:.0f} ms" if venue.latency_ms is not None else ""
        lines.append(f"Venue {escape(venue.name)}: {escape(venue.mode)}, {escape(venue.connection)}{latency}, "
                     f"{venue.markets} markets")
    lines.append(f"Open: {view.open_orders} order(s), {view.positions} position(s)")
    return fit(lines)


def positions(views: list[PositionView], quote: str) -> str:
    if not views:
        return "No open positions."
    lines = [f"<b>Positions</b> ({len(views)})"]
    for p in views:
        mark = amount(p.mark_price) if p.mark_price is not None else "-"
        protection = " · ".join(f"{name} {amount(level)}" for name, level in (("stop", p.stop_loss), ("take", p.take_profit),
                                                                             ("liq", p.liquidation_price)) if level is not None)
        lines.append(f"{escape(p.symbol)} {p.side.value} {amount(p.size)} @ {amount(p.entry_price)} on {escape(p.venue)}, "
                     f"{p.leverage}x\n  mark {mark} · uPnL {money(p.unrealized_pnl, True)} {quote}"
                     + (f"\n  {protection}" if protection else ""))
    return fit(lines, "positions")


def orders(views: list[Order]) -> str:
    if not views:
        return "No open orders."
    lines = [f"<b>Open orders</b> ({len(views)})"]
    for o in views:
        price = f" @ {amount(o.price)}" if o.price is not None else ""
        trigger = f" trigger {amount(o.trigger_price)}" if o.trigger_price is not None else ""
        lines.append(f"{escape(o.symbol)} {o.side.value} {o.type.value} {amount(o.size)}{price}{trigger} on "
                     f"{escape(o.venue)}: {o.status.value}, filled {amount(o.filled_size)}\n  <code>{escape(o.client_order_id)}</code>")
    return fit(lines, "orders")


def balances(views: list[VenueBalances]) -> str:
    lines = ["<b>Balances</b>"]
    for venue in views:
        held = [b for b in venue.balances if b.total]
        lines.append(f"{escape(venue.venue)}:" + ("" if held else " nothing"))
        lines.extend(f"  {escape(b.asset)} {amount(b.total)} (free {amount(b.free)}, in orders {amount(b.used)})" for b in held)
    return fit(lines, "balances")


def pnl(rows: list[StrategyPnl], total: StrategyPnl, period: str, quote: str) -> str:
    since = "today (UTC)" if period == "day" else "this week (UTC, from Monday)"
    lines = [f"<b>P&amp;L by strategy</b>, {since}: realized net of fees; open P&amp;L now"]
    for row in [*rows, total]:
        name = "all fills" if row is total else escape(row.strategy_id)
        lines.append(f"{name}: {money(row.realized, True)} {quote} ({row.fills} fills, fees {money(row.fees)})"
                     + (f" · open {money(row.unrealized, True)}" if row is not total else ""))
    if not rows:
        lines.insert(1, "No strategies loaded.")
    return fit(lines, "strategies")


def strategies(infos: list[StrategyInfo]) -> str:
    if not infos:
        return "No strategies loaded."
    lines = [f"<b>Strategies</b> ({len(infos)})"]
    for s in infos:
        error = f"\n  error: {escape(s.last_error)}" if s.last_error else ""
        lines.append(f"{escape(s.strategy_id)} ({escape(s.kind)}) <b>{escape(s.state)}</b> on {escape(s.venue)} "
                     f"{escape(', '.join(s.symbols))}\n  P&amp;L {money(s.pnl, True)} · orders {s.orders_sent} sent, "
                     f"{s.orders_refused} refused{error}")
    return fit(lines, "strategies")


def risk(view: RiskView) -> str:
    reason = f": {escape(view.reason)}" if view.reason else ""
    return f"Risk state <b>{view.state.value.upper()}</b>{reason}; {len(view.breakers)} breaker(s) tripped."
