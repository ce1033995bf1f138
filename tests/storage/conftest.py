"""A fresh database per test on each back end (``store``, in tests/conftest.py), plus small
factories for the models stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.models import Fill, Order, OrderType, Side
from core.storage import Database
from tests.backends import Store

T0 = 1_704_067_200_000


def make_order(n: int = 1, **changes: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": f"ot-test-{n:04d}", "venue": "paper", "symbol": "BTC/USDT", "side": Side.BUY,
        "type": OrderType.LIMIT, "size": Decimal("0.010"), "price": Decimal("42000.10"),
        "created_ts": T0 + n, "updated_ts": T0 + n,
    }
    fields.update(changes)
    return Order.model_validate(fields)


def make_fill(n: int = 1, **changes: object) -> Fill:
    fields: dict[str, object] = {
        "fill_id": f"fill-{n:04d}", "client_order_id": "ot-test-0001", "venue": "paper", "symbol": "BTC/USDT",
        "side": Side.BUY, "price": Decimal("42000.10"), "size": Decimal("0.005"), "fee": Decimal("0.021000050"),
        "fee_currency": "USDT", "ts": T0 + 100 + n,
    }
    fields.update(changes)
    return Fill.model_validate(fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """For the tests of what only a SQLite file has (pages, its write-ahead log, a backup copy)."""
    return tmp_path / "opentrade.db"


@pytest.fixture
async def db(store: Store, clock: SimClock) -> AsyncIterator[Database]:
    """A fresh database on each back end."""
    database = await store.open(clock=clock)
    yield database
    await database.close()
