"""The rules of protective levels: the auto distances, which side of the mark each level goes,
the tick, and when the mark has reached one."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.config import TradingConfig
from core.models import Position, PositionSide, ProtectiveLevels
from core.risk.protection import STOP_LOSS, TAKE_PROFIT, auto_levels, level_problems, reached

from .conftest import PERP


def position(side: PositionSide, entry: str = "30000") -> Position:
    return Position(venue="paper", symbol=PERP.symbol, side=side, size=D("0.1"), entry_price=D(entry))


def levels(side: PositionSide, stop: str | None, take: str | None) -> ProtectiveLevels:
    return ProtectiveLevels(venue="paper", symbol=PERP.symbol, side=side, opened_ts=0,
                            stop_loss=D(stop) if stop else None, take_profit=D(take) if take else None)


def test_auto_levels_are_the_configured_distances_from_the_entry_on_the_tick() -> None:
    trading = TradingConfig(stop_loss_pct=0.02, take_profit_pct=0.06)
    assert auto_levels(position(PositionSide.LONG, "30000.05"), PERP, trading) == (D("29400.0"), D("31800.1"))
    assert auto_levels(position(PositionSide.SHORT), PERP, trading) == (D("30600.0"), D("28200.0"))


@pytest.mark.parametrize(
    ("side", "stop", "take", "problems"),
    [
        (PositionSide.LONG, "29000", "31000", {}),
        (PositionSide.LONG, "30000", None, {STOP_LOSS: "a long's stop-loss must be below the mark 30,000.00; 30,000.00 is not"}),
        (PositionSide.LONG, None, "29999.9", {TAKE_PROFIT: "a long's take-profit must be above the mark 30,000.00; 29,999.90 is not"}),
        (PositionSide.SHORT, "29000", None, {STOP_LOSS: "a short's stop-loss must be above the mark 30,000.00; 29,000.00 is not"}),
        (PositionSide.SHORT, None, "31000", {TAKE_PROFIT: "a short's take-profit must be below the mark 30,000.00; 31,000.00 is not"}),
        (PositionSide.LONG, "29000.05", None, {STOP_LOSS: "stop-loss 29000.05 is not a multiple of the tick size 0.1"}),
        (PositionSide.LONG, None, None, {}),
    ],
)
def test_level_problems(side: PositionSide, stop: str | None, take: str | None, problems: dict[str, str]) -> None:
    given = {STOP_LOSS: D(stop) if stop else None, TAKE_PROFIT: D(take) if take else None}
    assert level_problems(side, D(30000), given, PERP) == problems


@pytest.mark.parametrize(
    ("side", "mark", "hit"),
    [
        (PositionSide.LONG, "29400", (STOP_LOSS, D(29400))), (PositionSide.LONG, "29400.1", None),
        (PositionSide.LONG, "31800", (TAKE_PROFIT, D(31800))), (PositionSide.LONG, "31799.9", None),
        (PositionSide.SHORT, "30600", (STOP_LOSS, D(30600))), (PositionSide.SHORT, "28200", (TAKE_PROFIT, D(28200))),
        (PositionSide.SHORT, "28200.1", None),
    ],
)
def test_reached(side: PositionSide, mark: str, hit: tuple[str, D] | None) -> None:
    stop, take = ("29400", "31800") if side is PositionSide.LONG else ("30600", "28200")
    assert reached(levels(side, stop, take), D(mark)) == hit


def test_a_missing_level_is_never_reached() -> None:
    assert reached(levels(PositionSide.LONG, None, "31800"), D(1)) is None
    assert reached(levels(PositionSide.LONG, "29400", None), D(10**6)) is None
