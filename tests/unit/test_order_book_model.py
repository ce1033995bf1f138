"""``OrderBook.trusted``, the market-data path's constructor, makes the same instance as
pydantic's ``model_construct``: if pydantic changes what an instance holds, this fails."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal

from core.models import OrderBook

D = Decimal
BIDS = [(D("42000.1"), D("0.5")), (D("42000"), D("1.25"))]
ASKS = [(D("42000.2"), D("0.01"))]


def test_trusted_is_the_instance_model_construct_makes() -> None:
    trusted = OrderBook.trusted("binance", "BTC/USDT", 7, BIDS, ASKS)
    constructed = OrderBook.model_construct(venue="binance", symbol="BTC/USDT", ts=7, bids=BIDS, asks=ASKS)
    assert trusted == constructed and repr(trusted) == repr(constructed)
    for state in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(trusted, state) == getattr(constructed, state), state
    assert trusted.model_dump() == constructed.model_dump()
    assert trusted.model_dump_json() == constructed.model_dump_json()
    assert (trusted.best_bid, trusted.best_ask, trusted.mid) == (D("42000.1"), D("42000.2"), D("42000.15"))
    assert pickle.loads(pickle.dumps(trusted)) == trusted == copy.deepcopy(trusted)
    assert trusted.model_copy(update={"ts": 8}).ts == 8
    trusted.ts = 9
    assert trusted.ts == 9 and trusted.model_fields_set == constructed.model_fields_set
    assert OrderBook.model_validate(trusted.model_dump()) == trusted
