"""A live venue's funding payments, read from the exchange's income history (ccxt's
fetchFundingHistory on Binance USDⓈ-M, the fake server answering /fapi/v1/income as Binance
does), become rows and events once: at start-up, at each reconciliation from the last payment
on record, and never twice across a restart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.events import FundingPaid
from core.ports import Capability
from tests.ccxt.fakes import install_binanceusdm
from tests.ccxt.server import FakeExchange, Request
from tests.ccxt.test_amend_in_engine import PERP, live_engine

EIGHT_HOURS = 8 * 3_600_000
T0 = 1_704_038_400_000  # 2023-12-31 16:00 UTC, a funding time


def income(time: int, amount: str, tran_id: int) -> dict[str, Any]:
    """One record of GET /fapi/v1/income?incomeType=FUNDING_FEE, as Binance answers it."""
    return {"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": amount, "asset": "USDT",
            "info": "FUNDING_FEE", "time": time, "tranId": tran_id, "tradeId": ""}


class Income:
    def __init__(self, server: FakeExchange) -> None:
        self.records = [income(T0, "-0.01260000", 9689322392), income(T0 + EIGHT_HOURS, "0.00431200", 9689322393)]
        server.route("GET", "/fapi/v1/income", self.answer)

    def answer(self, req: Request) -> Any:
        start = int(req.query.get("startTime", 0))
        return [r for r in self.records if r["time"] >= start and r["symbol"] == req.query.get("symbol", r["symbol"])]


async def test_funding_payments_from_the_income_history_are_recorded_once(
    server: FakeExchange, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_binanceusdm(server)
    history = Income(server)
    engine = await live_engine(server, tmp_path, monkeypatch)
    try:
        assert engine.venues["bn"].supports(Capability.FUNDING_PAYMENTS)
        paid = await engine.db.load_funding()
        assert [(p.venue, p.symbol, p.ts, p.amount, p.currency) for p in paid] == [
            ("bn", PERP, T0, Decimal("-0.0126"), "USDT"), ("bn", PERP, T0 + EIGHT_HOURS, Decimal("0.004312"), "USDT")]
        assert paid[0].rate is None and paid[0].side is None, "the income history says only the amount"
        events = engine.bus.subscribe(FundingPaid)
        history.records.append(income(T0 + 2 * EIGHT_HOURS, "-0.00200000", 9689322394))
        await engine.reconcile("bn")
        assert [e.payment.ts for e in events.drain()] == [T0 + 2 * EIGHT_HOURS], "only the new one"
        asked = server.calls("GET", "/fapi/v1/income")
        assert {(r.query["incomeType"], r.query["symbol"]) for r in asked} == {("FUNDING_FEE", "BTCUSDT")}
        assert str(T0 + EIGHT_HOURS) in {r.query.get("startTime") for r in asked}, "from the last payment on record"
    finally:
        await engine.stop()
        await engine.close()
    again = await live_engine(server, tmp_path, monkeypatch)
    try:
        assert len(await again.db.load_funding()) == 3
        assert len(await again.db.audit_entries(kind="funding")) == 3
    finally:
        await again.stop()
        await again.close()
