"""Every bot command through a real gateway and a fake Bot API: what each chat sees, what the
engine does, and what the audit log says, the actor named as the chat."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from core.clock import SimClock
from core.config import PermissionsConfig
from core.engine import TradingEngine
from core.models import RiskState, Side
from core.reports import build_report
from core.storage.audit import AuditEntry
from core.views import positions_view
from tests.gateway.telegram.botapi import FakeBotApi
from tests.gateway.telegram.conftest import ADMIN, READER, STRANGER, TRADER
from tests.safety.conftest import SPOT, limit, market, until

D = Decimal


async def audited(engine: TradingEngine, count: int = 1, **filters: Any) -> list[AuditEntry]:
    """The audit entries matching ``filters`` once there are ``count`` of them (writes are queued)."""
    for _ in range(500):
        entries = await engine.db.audit_entries(**filters)
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.005)
    raise AssertionError(f"fewer than {count} audit entries {filters}: {entries}")


def buttons(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


async def a_position(engine: TradingEngine, **kw: Any) -> None:
    await engine.place_order(market(**kw), actor="user")
    await until(lambda: engine.portfolio.position("paper", SPOT) is not None, "the position")


async def test_status_positions_orders_and_balance(gateway: Any, botapi: FakeBotApi, engine: TradingEngine) -> None:
    status = await botapi.reply(READER, "/status")
    assert status["text"].splitlines() == [
        "Engine running (default venue paper)",
        "Equity 100,000.00 USDT · today +0.00 USDT",
        "Risk ACTIVE: started",
        "Venue paper: paper, connected, 0 ms, 2 markets",
        "Open: 0 order(s), 0 position(s)",
    ]
    assert buttons(status) == ["Refresh"]
    assert (await botapi.reply(READER, "/positions"))["text"] == "No open positions."
    assert (await botapi.reply(READER, "/orders"))["text"] == "No open orders."

    await a_position(engine)
    working = await engine.place_order(limit(engine), actor="user")
    [view] = positions_view(engine)
    shown = (await botapi.reply(READER, "/positions"))["text"].splitlines()
    assert shown[:2] == ["Positions (1)", f"BTC/USDT long 0.01 @ {view.entry_price.normalize():f} on paper, 1x"]
    assert shown[2] == f"  mark {view.mark_price.normalize():f} · uPnL {view.unrealized_pnl:+,.2f} USDT"  # type: ignore[union-attr]
    levels = [f"{name} {level.normalize():f}" for name, level in
              (("stop", view.stop_loss), ("take", view.take_profit), ("liq", view.liquidation_price)) if level is not None]
    assert shown[3:] == ([f"  {' · '.join(levels)}"] if levels else []), "the protective levels the API gives"
    orders = (await botapi.reply(READER, "/orders"))["text"]
    assert f"BTC/USDT buy limit 0.01 @ {working.price.normalize():f} on paper: open, filled 0" in orders  # type: ignore[union-attr]
    assert working.client_order_id in orders
    balance = (await botapi.reply(READER, "/balance"))["text"].splitlines()
    assert balance[:2] == ["Balances", "paper:"]
    assert any(line.startswith("  BTC 0.01 ") for line in balance) and any(line.startswith("  USDT ") for line in balance)
    assert (await botapi.reply(READER, "/orders paper"))["text"] == orders
    assert (await botapi.reply(READER, "/positions binance"))["text"] == (
        "Not found: venue 'binance' is not configured; configured: paper")
    assert (await botapi.reply(READER, "/balance paper binance"))["text"] == "Give at most one venue, e.g. /positions paper"
    refreshed = await botapi.answer(await botapi.press(status, "Refresh"))
    assert refreshed["callback_query_id"]
    assert (await botapi.wait_for(lambda: botapi.in_chat(READER)[-1]["text"].endswith("1 order(s), 1 position(s)"),
                                  "a fresh status"))


async def test_pnl_by_strategy_for_the_day_and_the_week(gateway: Any, botapi: FakeBotApi, engine: TradingEngine,
                                                        clock: SimClock) -> None:
    await a_position(engine, strategy_id="sma")
    await engine.place_order(market(Side.SELL, strategy_id="sma"), actor="user")
    await until(lambda: engine.portfolio.position("paper", SPOT) is None, "the position closed")
    await engine.orders.flush()
    report = build_report(await engine.db.load_fills(), "week", clock.now_ms(), mark=engine.portfolio.mark,
                          strategy="sma")
    [week] = report.strategies
    assert week.fills == 2 and week.net < 0, "bought at the ask, sold at the bid, paid fees twice"
    day = (await botapi.reply(TRADER, "/pnl"))["text"].splitlines()
    assert day[0] == "P&L by strategy, today (UTC): realized net of fees; open P&L now"
    assert day[1] == f"sma: {week.net:+,.2f} USDT (2 fills, fees {week.fees:,.2f}) · open +0.00"
    assert day[2] == f"all fills: {week.net:+,.2f} USDT (2 fills, fees {week.fees:,.2f})"
    clock.advance(86_400_000)  # Tuesday: another day, the same week (2024-01-01 was a Monday)
    assert (await botapi.reply(TRADER, "/pnl day"))["text"].splitlines()[1] == "sma: +0.00 USDT (0 fills, fees 0.00) · open +0.00"
    assert (await botapi.reply(TRADER, "/pnl week"))["text"].splitlines()[1].startswith(f"sma: {week.net:+,.2f} USDT (2 fills")
    assert (await botapi.reply(TRADER, "/pnl month"))["text"] == "Usage: /pnl [day|week] (day by default)"


async def test_help_other_text_and_unknown_buttons(gateway: Any, botapi: FakeBotApi) -> None:
    help_text = (await botapi.reply(READER, "/help"))["text"]
    for command in ("/status", "/positions", "/orders", "/balance", "/pnl", "/strategies", "/close", "/stop", "/resume"):
        assert f"\n{command}" in "\n" + help_text
    assert help_text.endswith("This chat acts as telegram:-100333 at the read_only level; every change asks for a confirmation.")
    assert (await botapi.reply(ADMIN, "/start"))["text"].startswith("/status — "), "Telegram's first message is /start"
    assert (await botapi.reply(ADMIN, "what now?"))["text"] == "Not a command of this bot: /help lists them."
    assert (await botapi.reply(ADMIN, "/status@opentrade_test_bot"))["text"].startswith("Engine running"), "a group's form"
    status = botapi.in_chat(ADMIN)[-1]
    answer = await botapi.answer(await botapi.press_data(status, "frobnicate:1"))
    assert answer["text"] == "This button is not one of the bot's."


async def test_the_emergency_stop_asks_then_halts_once(gateway: Any, botapi: FakeBotApi, engine: TradingEngine) -> None:
    working = await engine.place_order(limit(engine), actor="user")
    question = await botapi.reply(TRADER, "/stop news spike")
    assert question["text"] == ("EMERGENCY STOP (news spike): halt trading, cancel every open order (1) and close every "
                                "position (0). Trading stays halted until an admin sends /resume.\nConfirm within 60 s.")
    assert buttons(question) == ["Confirm", "Cancel"]
    assert engine.risk.state is RiskState.ACTIVE, "nothing happens before the confirmation"
    first, second = await botapi.press(question, "Confirm"), await botapi.press(question, "Confirm")
    assert (await botapi.answer(first))["text"] == "Done"
    assert (await botapi.answer(second))["text"] == "Already confirmed: the emergency stop was done once"
    assert engine.risk.state is RiskState.HALTED and "news spike" in engine.risk.state_reason
    assert working.client_order_id not in [o.client_order_id for o in engine.open_orders()]
    edited = await botapi.edited(question)
    assert edited["text"] == "Confirmed: the emergency stop.\nRisk state HALTED: emergency stop: news spike; 0 breaker(s) tripped."
    assert "reply_markup" not in edited, "the buttons go with the answer"
    [stop] = await audited(engine, kind="emergency_stop")
    assert stop.actor == "telegram:222" and stop.payload == {"reason": "news spike"}
    [confirmed] = await audited(engine, kind="telegram_confirmed")
    assert confirmed.actor == "telegram:222" and confirmed.payload == {"command": "stop", "what": "the emergency stop"}
    assert confirmed.seq < stop.seq


async def test_a_confirmation_expires_after_60_seconds_on_the_engine_clock(
    gateway: Any, botapi: FakeBotApi, engine: TradingEngine, clock: SimClock
) -> None:
    early = await botapi.reply(TRADER, "/stop")
    clock.advance(59_999)
    assert (await botapi.answer(await botapi.press(early, "Cancel")))["text"] == "Canceled"
    assert (await botapi.edited(early))["text"] == "Canceled: the emergency stop. Nothing was done."
    late = await botapi.reply(TRADER, "/stop")
    elsewhere = await botapi.answer(await botapi.press({**late, "chat": {"id": ADMIN, "type": "private"}}, "Confirm"))
    assert elsewhere["text"] == "This question is no longer open (asked before the gateway restarted?): nothing was done"
    assert engine.risk.state is RiskState.ACTIVE, "a question is answered only in the chat it was asked in"
    clock.advance(60_000)
    assert (await botapi.answer(await botapi.press(late, "Confirm")))["text"] == "Expired: nothing was done"
    assert (await botapi.edited(late))["text"] == ("Expired: the emergency stop was not done (no confirmation within 60 s). "
                                       "Send the command again.")
    assert (await botapi.answer(await botapi.press(late, "Confirm")))["text"] == "Expired: nothing was done"
    assert engine.risk.state is RiskState.ACTIVE
    assert await engine.db.audit_entries(kind="emergency_stop") == []
    assert await engine.db.audit_entries(kind="telegram_confirmed") == []


async def test_a_read_only_chat_is_refused_before_any_question(gateway: Any, botapi: FakeBotApi, engine: TradingEngine) -> None:
    await a_position(engine)
    for text, action, level in (("/stop", "the emergency stop", "trade"), ("/close BTC/USDT", "closing positions", "trade"),
                                ("/resume", "resetting the risk state", "admin")):
        refusal = await botapi.reply(READER, text)
        assert refusal["text"] == f"Not allowed: telegram chat -100333 is read_only: {action} needs the {level} level"
        assert buttons(refusal) == []
    assert (await botapi.reply(TRADER, "/resume"))["text"] == (
        "Not allowed: telegram chat 222 is trade: resetting the risk state needs the admin level")
    denied = await audited(engine, 4, kind="permission_denied")
    assert [e.actor for e in denied] == ["telegram:-100333"] * 3 + ["telegram:222"]
    assert engine.risk.state is RiskState.ACTIVE and engine.portfolio.position("paper", SPOT) is not None


@pytest.mark.parametrize("config", [{"permissions": PermissionsConfig(profile="viewer", profiles={"viewer": "read_only"})}],
                         indirect=True)
async def test_a_chat_level_never_exceeds_the_profile(gateway: Any, botapi: FakeBotApi) -> None:
    refusal = await botapi.reply(ADMIN, "/stop")
    assert refusal["text"] == "Not allowed: profile 'viewer' is read_only: the emergency stop needs the trade level"
    assert (await botapi.reply(ADMIN, "/help"))["text"].endswith("at the read_only level; every change asks for a confirmation.")


async def test_a_chat_not_allowed_is_ignored_and_audited(gateway: Any, botapi: FakeBotApi, engine: TradingEngine,
                                                         clock: SimClock) -> None:
    await botapi.write(STRANGER, "/stop")
    status = await botapi.reply(ADMIN, "/status")  # updates run in order: the stranger's came first
    await botapi.press_data({**status, "chat": {"id": STRANGER, "type": "private"}}, "status")
    await botapi.write(STRANGER, "/positions")
    await botapi.reply(ADMIN, "/orders")
    assert botapi.in_chat(STRANGER) == [] and not any(a for a in botapi.answers), "no answer of any kind"
    [refused] = await audited(engine, kind="telegram_refused")
    assert refused.actor == "telegram:999"
    assert refused.payload == {"chat_id": 999, "chat_type": "private", "user_id": 999, "username": "trader999",
                               "command": "/stop", "button": False, "ignored": 1}
    clock.advance(60_000)
    await botapi.write(STRANGER, "hello")
    later = await audited(engine, 2, kind="telegram_refused")
    assert later[-1].payload["ignored"] == 3, "the press and the message within the minute are counted, not each audited"
    assert engine.risk.state is RiskState.ACTIVE


async def test_close_a_position(gateway: Any, botapi: FakeBotApi, engine: TradingEngine) -> None:
    assert (await botapi.reply(TRADER, "/close"))["text"] == "Usage: /close SYMBOL [VENUE], e.g. /close BTC/USDT"
    assert (await botapi.reply(TRADER, "/close BTC/USDT"))["text"] == "Nothing to close: no open BTC/USDT position on paper."
    await a_position(engine)
    assert (await botapi.reply(TRADER, "/close BTC/USDT binance"))["text"] == (
        "Not found: venue 'binance' is not configured; configured: paper")
    question = await botapi.reply(TRADER, "/close BTC/USDT")
    assert question["text"].startswith("Close the BTC/USDT long position of 0.01 on paper with a market sell of 0.01 (mark ")
    assert engine.portfolio.position("paper", SPOT) is not None
    assert (await botapi.answer(await botapi.press(question, "Confirm")))["text"] == "Done"
    assert (await botapi.edited(question))["text"] == ("Confirmed: close BTC/USDT on paper.\n"
                                                       "Closing order sell 0.01 BTC/USDT: filled, filled 0.01")
    await until(lambda: engine.portfolio.position("paper", SPOT) is None, "the position closed")
    placed = await audited(engine, actor="telegram:222")
    assert {"telegram_confirmed", "order"} <= {e.kind for e in placed}, [e.kind for e in placed]


async def test_a_refusal_of_the_closing_order_comes_before_the_question(gateway: Any, botapi: FakeBotApi,
                                                                         engine: TradingEngine) -> None:
    await a_position(engine)
    # a halt by a person: even exits wait for the reset
    engine.risk.set_state(RiskState.HALTED, "kill switch engaged by user", by_person=True)
    request = engine.executor.closing_request("paper", SPOT)
    assert request is not None
    verdict = engine.executor.precheck(request)
    assert verdict is not None
    refusal = await botapi.reply(TRADER, "/close BTC/USDT")
    assert refusal["text"] == f"Refused: {verdict.reason}"
    assert buttons(refusal) == []


async def test_resume_after_a_halt(gateway: Any, botapi: FakeBotApi, engine: TradingEngine) -> None:
    await engine.emergency_stop("drill", actor="user")
    question = await botapi.reply(ADMIN, "/resume")
    assert question["text"] == ("Reset the risk state (HALTED: emergency stop: drill) and the 0 tripped circuit breaker(s), "
                                "and trade again?\nConfirm within 60 s.")
    assert (await botapi.answer(await botapi.press(question, "Confirm")))["text"] == "Done"
    assert engine.risk.state is RiskState.ACTIVE
    assert (await botapi.edited(question))["text"] == ("Confirmed: the risk reset.\n"
                                                       "Risk state ACTIVE: reset by telegram:111; 0 breaker(s) tripped.")
    [reset] = await audited(engine, kind="risk_reset")
    assert reset.actor == "telegram:111"


async def test_strategies_with_start_and_stop_buttons(gateway: Any, botapi: FakeBotApi, engine: TradingEngine) -> None:
    listing = await botapi.reply(TRADER, "/strategies")
    assert listing["text"].splitlines()[:2] == ["Strategies (1)", "sma (sma_cross) stopped on paper BTC/USDT"]
    assert buttons(listing) == ["Start sma"]
    in_group = {**listing, "chat": {"id": READER, "type": "supergroup"}}
    told = await botapi.next_in(READER, lambda: botapi.press(in_group, "Start sma"), "the refusal")
    assert told["text"] == "Not allowed: telegram chat -100333 is read_only: starting strategies needs the trade level"
    assert botapi.answers[-1]["text"] == told["text"], "and over the chat, where the button was pressed"
    ask = await botapi.next_in(TRADER, lambda: botapi.press(listing, "Start sma"), "the question")
    assert ask["text"] == "Start the strategy sma (sma_cross) on paper BTC/USDT?\nConfirm within 60 s."
    assert str(engine.strategies.context("sma").state) == "stopped"
    assert (await botapi.answer(await botapi.press(ask, "Confirm")))["text"] == "Done"
    assert str(engine.strategies.context("sma").state) == "running"
    assert (await botapi.edited(ask))["text"] == "Confirmed: start sma.\nStrategy sma is running."
    [started] = await audited(engine, kind="strategy_started")
    assert started.actor == "telegram:222" and started.payload == {"strategy_id": "sma"}
    assert buttons(await botapi.reply(TRADER, "/strategies")) == ["Stop sma"]
