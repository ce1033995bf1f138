"""Sizing rules: fixed fraction, volatility target, capped Kelly, and the reasons for impossible inputs."""

from __future__ import annotations

import pytest

from core.risk import SizingError, equity_share, kelly_fraction


def test_fixed_fraction_is_the_fraction() -> None:
    assert equity_share("fixed_fraction", fraction=0.05) == 0.05


def test_volatility_target_scales_exposure_to_the_target() -> None:
    assert equity_share("volatility_target", volatility=0.04, target_volatility=0.02) == pytest.approx(0.5)
    assert equity_share("volatility_target", volatility=0.01, target_volatility=0.002) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("win_rate", "payoff", "cap", "expected"),
    [
        (0.55, 1.0, 0.25, 0.1),  # f* = 0.1
        (0.6, 2.0, 0.25, 0.25),  # f* = 0.4, capped at 0.25
        (0.4, 1.0, 0.25, 0.0),  # no edge: nothing
    ],
)
def test_capped_kelly(win_rate: float, payoff: float, cap: float, expected: float) -> None:
    assert equity_share("kelly", win_rate=win_rate, payoff=payoff, kelly_cap=cap) == pytest.approx(expected)


def test_kelly_fraction_formula() -> None:
    assert kelly_fraction(0.6, 2.0) == pytest.approx(0.4)
    assert equity_share("kelly", win_rate=0.6, payoff=2.0, kelly_cap=0.1) == pytest.approx(0.1)


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
        ({"method": "fixed_fraction", "fraction": 1.5}, "fraction must be between 0 and 1"),
    ],
)
def test_impossible_inputs_are_explained(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SizingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        equity_share(**kwargs)  # type: ignore[arg-type]
