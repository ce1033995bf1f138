"""The simulated market has the features it claims: regimes, volatility clusters, jumps, a
spread and depth, a flow that follows the price, and a state that survives a restart."""

from __future__ import annotations

import json
import math
import statistics
from decimal import Decimal

import pytest

from core.config import PaperMarketConfig
from core.matching import BUY, SELL
from exchanges.paper.markets import market_spec
from exchanges.paper.simulator import FLOW_PER_SECOND, LEVELS, MarketFactor, MarketSimulator

SPEC = market_spec("paper", PaperMarketConfig(symbol="ETH/USDT"))


def path(seed: int, steps: int, dt: float = 1.0) -> list[float]:
    sim = MarketSimulator(SPEC, seed)
    return [sim.advance(dt) for _ in range(steps)]


def test_a_seed_is_a_market() -> None:
    assert path(1, 500) == path(1, 500)
    assert path(1, 500) != path(2, 500)


def test_volatility_clusters_jumps_and_regimes() -> None:
    sim = MarketSimulator(SPEC, 4)
    prices, regimes = [], set()
    for _ in range(40_000):
        prices.append(sim.advance(1.0))
        regimes.add(sim.regime)
    returns = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
    size = [abs(r) for r in returns]
    mean = statistics.fmean(size)
    lag = 60
    autocorrelation = statistics.correlation(size[:-lag], size[lag:])
    assert autocorrelation > 0.05, "quiet and busy stretches should follow each other"
    assert max(size) > 15 * statistics.median(size), "there should be jumps"
    assert regimes == {-1, 0, 1}
    assert 0.5 * SPEC.volatility < mean < 3 * SPEC.volatility


def test_quotes_have_a_spread_and_growing_depth() -> None:
    sim = MarketSimulator(SPEC, 5)
    sim.advance(1.0)
    ladder = sim.requote().levels()
    bids = [(p, q) for s, p, q in ladder if s == BUY]
    asks = [(p, q) for s, p, q in ladder if s == SELL]
    assert len(bids) == len(asks) == LEVELS
    assert max(p for p, _ in bids) < sim.mid_ticks < min(p for p, _ in asks)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert sum(q for _, q in asks[-5:]) > sum(q for _, q in asks[:5])


def test_flow_rate_and_direction_follow_the_price() -> None:
    sim = MarketSimulator(SPEC, 6)
    count = 0
    for _ in range(2000):
        sim.advance(1.0)
        count += len(sim.flow(1.0))
    assert abs(count / 2000 - FLOW_PER_SECOND) < 0.3
    sim.pressure = 2.5
    buys = [side for _ in range(500) for side, _ in sim.flow(1.0)]
    assert buys.count(BUY) > 0.65 * len(buys)


def test_a_step_changes_a_few_levels_of_the_ladder() -> None:
    """Below the best the levels keep their prices and sizes while the mid moves (the
    exchange moves or resizes only what changed), and the ladder still follows the mid."""
    sim = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol="BTC/USDT")), 2)
    sim.advance(0.2)
    before, changed = set(sim.requote(0.2).levels()), []
    for _ in range(500):
        sim.advance(0.2)
        ladder = sim.requote(0.2).levels()
        changed.append(len(set(ladder) - before))
        before = set(ladder)
        assert len(ladder) == 2 * LEVELS
        assert max(p for s, p, _ in ladder if s == BUY) < sim.mid_ticks < min(p for s, p, _ in ladder if s == SELL)
    assert 2 <= statistics.fmean(changed) <= 10


@pytest.mark.parametrize(("symbol", "volatility"), [("BTC/USDT", None), ("SOL/USDT", None), ("XRP/USDT", 0.02)])
def test_requote_tells_what_changed_from_the_last_ladder(symbol: str, volatility: float | None) -> None:
    """The last ladder less the levels ``requote`` removed, with those it placed, is the new
    ladder: through steps of every size (mids that move by less than a gap, by many, and far
    enough that the grid is laid again: XRP here). After a restart the changes do not start
    from a ladder anyone holds: the exchange takes the whole of it."""
    price = Decimal("0.5") if symbol == "XRP/USDT" else None
    sim = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol=symbol, price=price, volatility=volatility)), 5)
    sim.advance(0.1)
    ladder = {side * ticks: lots for side, ticks, lots in sim.requote(0.1).levels()}
    placed, gaps = [], set()
    for step in range(3000):
        dt = 5.0 if step % 100 == 99 else 0.1
        if step == 1500:
            restored = MarketSimulator(sim.spec, 5)
            restored.restore(json.loads(json.dumps(sim.state())))
            sim = restored
        sim.advance(dt)
        update = sim.requote(dt)
        assert update.source is sim and update.version == update.since + 1
        levels = update.levels()
        if step == 1500:
            assert update.since != 0, "not the first ladder of a new simulator: not that of the one saved"
        else:
            for key in update.removed:
                del ladder[key]
            ladder.update(update.placed)
            assert ladder == {side * ticks: lots for side, ticks, lots in levels}, step
        ladder = {side * ticks: lots for side, ticks, lots in levels}
        assert len(levels) == len(ladder) == 2 * LEVELS
        placed.append(len(update.placed))
        gaps.add(sim.gap)
    if volatility is None:
        assert statistics.fmean(placed) < 12 and len(gaps) == 1
    else:  # a mid that moves a hundred gaps a step changes the whole ladder
        assert statistics.fmean(placed) > 30 and len(gaps) > 1


def test_state_round_trip_continues_the_same_market() -> None:
    original = MarketSimulator(SPEC, 9)
    for _ in range(100):
        original.advance(0.1)
        original.requote(0.1)
    copy = MarketSimulator(SPEC, 9)
    copy.restore(json.loads(json.dumps(original.state())))
    assert [original.advance(0.1) for _ in range(50)] == [copy.advance(0.1) for _ in range(50)]
    assert original.requote(0.1).levels() == copy.requote(0.1).levels() and original.flow(5.0) == copy.flow(5.0)


def test_history_ends_at_the_current_price_on_whole_minutes() -> None:
    sim = MarketSimulator(SPEC, 3)
    points = sim.history(1_704_067_230_000, minutes=30)
    assert points[0][0] == 1_704_067_200_000 - 30 * 60_000 and points[-1][0] < 1_704_067_200_000
    assert points[-1][1] == sim.price and all(size > 0 for _, _, size in points)
    assert sim.history(1_704_067_230_000, minutes=30) == points


def test_a_perpetual_follows_its_spot_market_with_a_small_basis() -> None:
    spot = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol="BTC/USDT")), 1)
    perp = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol="BTC/USDT:USDT")), 1, leader=spot)
    premiums = []
    for _ in range(20_000):
        spot.advance(1.0)
        premiums.append(math.log(perp.advance(1.0) / spot.price))
    assert max(abs(p) for p in premiums) < 0.002
    assert statistics.pstdev(premiums) > 0.0001, "the basis moves"
    assert abs(spot.price / 60_000 - 1) > 0.002, "while the price itself wanders much further"
    history = perp.history(1_704_067_230_000, minutes=5)
    assert history[-1][1] == perp.price


def test_markets_sharing_a_factor_move_together() -> None:
    btc = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol="BTC/USDT")), 1)
    sol = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol="SOL/USDT")), 1)
    alone = MarketSimulator(market_spec("paper", PaperMarketConfig(symbol="ETH/USDT")), 1)
    factor = MarketFactor(1)
    returns: dict[str, list[float]] = {"btc": [], "sol": [], "alone": []}
    for _ in range(5000):
        factor.advance(1.0)
        for name, sim, shared in (("btc", btc, factor), ("sol", sol, factor), ("alone", alone, None)):
            before = sim.price
            returns[name].append(math.log(sim.advance(1.0, shared) / before))
    assert 0.55 < statistics.correlation(returns["btc"], returns["sol"]) < 0.9
    assert abs(statistics.correlation(returns["btc"], returns["alone"])) < 0.1
