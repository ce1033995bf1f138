"""Declared parameters: types, bounds and the messages a trader sees."""

from __future__ import annotations

import random

import pytest

from core.config import StrategyConfig
from core.strategies.base import Param, ParameterError
from core.strategies.registry import UnknownStrategy, build, check_configs, strategy_class, strategy_classes
from core.strategies.sma_cross import SmaCross


def test_defaults_and_coercion_from_text() -> None:
    assert SmaCross().params == {"fast": 20, "slow": 100, "invest": 0.9999}
    assert SmaCross.validate_params({"fast": "5", "slow": "30.0"})["fast"] == 5


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"fast": 1}, "strategy 'sma_cross': parameter 'fast' = 1 is out of bounds: must be between 2 and 500"),
        ({"fast": 2.5}, "parameter 'fast' must be between 2 and 500 (got 2.5)"),
        ({"fast": "abc"}, "parameter 'fast' must be between 2 and 500 (got 'abc')"),
        ({"speed": 3}, "strategy 'sma_cross' has no parameter 'speed' (it has: fast, slow, invest)"),
        ({"fast": 50, "slow": 20}, "fast (50) must be smaller than slow (20)"),
    ],
)
def test_bad_values_are_named(given: dict, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        SmaCross.validate_params(given)
    assert message in str(info.value)


def test_choice_and_bool_parameters() -> None:
    choice = Param("mode", str, "a", choices=("a", "b"))
    assert choice.coerce("b", "x") == "b"
    with pytest.raises(ParameterError, match="must be one of a, b"):
        choice.coerce("c", "x")
    flag = Param("on", bool, False)
    assert flag.coerce("yes", "x") is True and flag.coerce("off", "x") is False
    with pytest.raises(ParameterError):
        flag.coerce("maybe", "x")


def test_search_space_stays_in_bounds() -> None:
    param = Param("n", int, 5, low=2, high=9)
    rng = random.Random(1)
    assert param.grid(4) == [2, 4, 7, 9]
    values = [param.mutate(9, rng, 0.5) for _ in range(200)] + [param.sample(rng) for _ in range(200)]
    assert all(isinstance(v, int) and 2 <= v <= 9 for v in values)
    assert not Param("lower", float, 1.0, low=0, high=2, tunable=False).searchable


def test_registry_and_configuration() -> None:
    assert {"sma_cross", "ai_trend_following", "mean_reversion", "grid", "basis_arbitrage", "pair_arbitrage"} <= set(strategy_classes())
    with pytest.raises(UnknownStrategy, match="unknown strategy 'macd_magic' \\(known: ai_trend_following"):
        strategy_class("macd_magic")
    strategy = build("btc_fast", StrategyConfig(kind="sma_cross", fast=5, slow=30))
    assert strategy.strategy_id == "btc_fast" and strategy.params["fast"] == 5
    default = build("ai_trend_following", StrategyConfig(confidence_threshold=0.8))
    assert default.name == "ai_trend_following" and default.params["confidence_threshold"] == 0.8
    problems = check_configs({
        "a": StrategyConfig(kind="mean_reversion", entry_z=9.0),
        "b": StrategyConfig(kind="nope"),
        "c": StrategyConfig(kind="grid", lower=10.0, upper=20.0),
    })
    assert problems == [
        "strategy 'mean_reversion': parameter 'entry_z' = 9 is out of bounds: must be between 0.5 and 5 (configured as 'a')",
        "unknown strategy 'nope' (known: ai_trend_following, basis_arbitrage, grid, mean_reversion, pair_arbitrage, sma_cross) "
        "(configured as 'b')",
    ]


def test_searched_floats_are_short_and_stay_in_bounds() -> None:
    param = Param("x", float, 0.1, low=0.012345, high=0.123456)
    rng = random.Random(3)
    values = [param.sample(rng) for _ in range(300)] + [param.mutate(0.1234, rng, 1.0) for _ in range(300)]
    assert all(0.012345 <= v <= 0.123456 for v in values)
    assert all(len(f"{v:g}".replace("0.", "").lstrip("0")) <= 6 for v in values)
