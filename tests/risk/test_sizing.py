"""Position sizing: fixed fraction, volatility target, capped Kelly, lot rounding and minimums."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from collections.abc import Callable
from functools import partial

from core.config import RiskConfig
from core.models import Balance, Direction, Instrument, Signal
from core.portfolio import Portfolio
from core.risk import SizingError, equity_share, kelly_fraction, position_size

from .conftest import BTC, PERP

Sizer = Callable[..., Callable[..., D]]


@pytest.fixture
def sizer(portfolio: Portfolio) -> Sizer:
    """``position_size`` under the default limits overridden by keyword, at the portfolio's equity."""

    def make(**limits: object) -> Callable[..., D]:
        limits.setdefault("max_position_size", D(1_000_000))
        return partial(position_size, RiskConfig(**limits), portfolio.equity())  # type: ignore[arg-type]

    return make

WIDE = {"max_position_pct": 1.0}  # sizing tests look at the rule, not the position cap


def signal(direction: Direction = Direction.BUY, strength: float = 1.0) -> Signal:
    return Signal(instrument_id="BTC/USDT", direction=direction, strength=strength, confidence=0.9)


def test_fixed_fraction_rounds_down_to_the_lot(sizer: Sizer) -> None:
    size = sizer(**WIDE)(None, BTC, D(30000), fraction=0.05)
    assert size == D("0.1666")  # 5,000 / 30,000 = 0.16666...


def test_signal_strength_scales_and_hold_trades_nothing(sizer: Sizer) -> None:
    size = sizer(**WIDE)
    assert size(signal(strength=0.5), BTC, D(30000), fraction=0.06) == D("0.1")
    assert size(signal(Direction.HOLD), BTC, D(30000), fraction=0.06) == 0


def test_volatility_target(sizer: Sizer) -> None:
    size_for = sizer(**WIDE)
    size = size_for(
        None, BTC, D(30000), method="volatility_target", volatility=0.04, target_volatility=0.02
    )
    assert size == D("1.6666")  # half of equity: 50,000 / 30,000
    calmer = size_for(
        None, BTC, D(30000), method="volatility_target", volatility=0.01, target_volatility=0.002
    )
    assert calmer == D("0.6666")


@pytest.mark.parametrize(
    ("win_rate", "payoff", "cap", "expected"),
    [
        (0.55, 1.0, 0.25, D("0.3333")),  # f* = 0.1
        (0.6, 2.0, 0.25, D("0.8333")),  # f* = 0.4, capped at 0.25
        (0.4, 1.0, 0.25, D(0)),  # no edge: nothing
    ],
)
def test_capped_kelly(sizer: Sizer, win_rate: float, payoff: float, cap: float, expected: D) -> None:
    size = sizer(**WIDE)(
        None, BTC, D(30000), method="kelly", win_rate=win_rate, payoff=payoff, kelly_cap=cap
    )
    assert size == expected


def test_kelly_fraction_formula() -> None:
    assert kelly_fraction(0.6, 2.0) == pytest.approx(0.4)
    assert equity_share("kelly", win_rate=0.6, payoff=2.0, kelly_cap=0.1) == pytest.approx(0.1)


def test_size_never_exceeds_the_position_limits(sizer: Sizer) -> None:
    assert sizer()(None, BTC, D(30000), fraction=0.5) == D("0.3333")  # 10% of equity
    capped = sizer(max_position_size=D(3000), **WIDE)
    assert capped(None, BTC, D(30000), fraction=0.5) == D("0.1")


def test_contracts_for_perpetuals_use_the_contract_size(sizer: Sizer) -> None:
    tenth = PERP.model_copy(update={"contract_size": D("0.1")})
    assert sizer(**WIDE)(None, tenth, D(30000), fraction=0.03) == D(1)


@pytest.mark.parametrize(
    "instrument",
    [
        BTC.model_copy(update={"min_size": D("0.01")}),
        BTC.model_copy(update={"min_notional": D(100)}),
        BTC.model_copy(update={"lot_size": D(1)}),
    ],
)
def test_zero_when_below_the_minimum(sizer: Sizer, instrument: Instrument) -> None:
    assert sizer(**WIDE)(None, instrument, D(30000), fraction=0.0002) == 0


def test_zero_without_equity(sizer: Sizer, portfolio: Portfolio) -> None:
    portfolio.set_balances("paper", [Balance(asset="USDT")])
    assert sizer()(None, BTC, D(30000)) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "martingale"}, "unknown sizing method 'martingale'; choose one of fixed_fraction, volatility_target, kelly"),
        ({"method": "volatility_target"}, "volatility targeting needs the instrument's volatility"),
        ({"method": "volatility_target", "volatility": 0.0}, "volatility targeting needs"),
        ({"method": "volatility_target", "volatility": 0.1, "target_volatility": 0}, "target volatility must be"),
        ({"method": "kelly", "win_rate": 0.5}, "Kelly sizing needs a win rate and a payoff ratio"),
        ({"method": "kelly", "win_rate": 1.5, "payoff": 1.0}, "win rate must be between 0 and 1"),
        ({"method": "kelly", "win_rate": 0.5, "payoff": 0.0}, "payoff"),
        ({"method": "kelly", "win_rate": 0.5, "payoff": 1.0, "kelly_cap": 2.0}, "Kelly cap"),
        ({"fraction": 1.5}, "fraction must be between 0 and 1"),
    ],
)
def test_impossible_inputs_are_explained(sizer: Sizer, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SizingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sizer()(None, BTC, D(30000), **kwargs)  # type: ignore[arg-type]


def test_price_must_be_positive(sizer: Sizer) -> None:
    with pytest.raises(ValueError, match="price must be greater than 0"):
        sizer()(None, BTC, D(0))
