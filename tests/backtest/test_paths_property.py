"""Property: for any sequence of long / flat / short targets, any exposure size and fee, the
event-driven path through the matching engine and the vectorised path produce the same trades
and the same equity curve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.backtest.data import Bars
from core.backtest.engine import backtest
from core.backtest.fast import run_fast, simulate_targets
from core.backtest.result import BacktestSettings
from core.backtest.synthetic import gbm_bars
from core.models import Candle
from core.strategies.base import Param, TargetStrategy

BARS = gbm_bars(60, seed=11, timeframe="1h")


class Replay(TargetStrategy):
    """Holds the scripted target of each candle (given as a string of -, 0 and +)."""

    name: ClassVar[str] = "replay"
    vectorised: ClassVar[bool] = True
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("script", str, ""),
        Param("size", float, 1.0, low=0.01, high=1.0),
    )

    @classmethod
    def vector_targets(cls, bars: Bars, params: Mapping[str, Any]) -> np.ndarray:
        return np.array([{"-": -1, "0": 0, "+": 1}[c] for c in params["script"]]) * params["size"]

    async def on_bar(self, symbol: str, candle: Candle) -> None:
        i = int((candle.ts - BARS.ts[0]) // BARS.step_ms)
        self.aim(symbol, {"-": -1, "0": 0, "+": 1}[self.params["script"][i]] * self.params["size"])


@settings(max_examples=25, deadline=None)
@given(
    script=st.text(alphabet="-0+", min_size=60, max_size=60),
    size=st.floats(min_value=0.05, max_value=1.0),
    fee=st.sampled_from([0.0, 0.0005, 0.001, 0.004]),
)
def test_event_and_vectorised_paths_agree(script: str, size: float, fee: float) -> None:
    params = {"script": script, "size": size}
    config = BacktestSettings(cash=10_000.0, fee=fee)
    event, fast = backtest(Replay, BARS, params, config), run_fast(Replay, BARS, params, config)
    assert [(t.entry_bar, t.exit_bar, t.side) for t in event.trades] == [(t.entry_bar, t.exit_bar, t.side) for t in fast.trades]
    assert [t.size for t in event.trades] == pytest.approx([t.size for t in fast.trades], rel=1e-9)
    assert np.allclose(event.equity, fast.equity, rtol=1e-9)
    assert event.final_position == pytest.approx(fast.final_position, rel=1e-9)


def test_targets_of_different_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="single exposure size"):
        simulate_targets(BARS, np.array([0.5] * 30 + [1.0] * 30), BacktestSettings())
