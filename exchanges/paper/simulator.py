"""A seeded market for one symbol: a mid price, the liquidity around it and the trade flow.

The mid follows a log-price process with regimes (up trend, down trend, range that reverts to
where it began), volatility that clusters (a mean-reverting log multiplier) and occasional
jumps that also raise volatility. Or, with a ``ReplayPath``, the mid walks recorded candles.
Markets share a market-wide shock, so they are correlated as crypto assets are. A perpetual
whose spot market is also simulated follows it with a small mean-reverting basis, as real
perpetuals do, so spot and perpetual never drift apart.

Liquidity is a ladder of resting orders on both sides: the spread widens with volatility,
level sizes grow with distance and vary at random. Below the best level of each side the levels
rest on a grid of prices and keep their sizes for a while, so a step changes a few levels of the
ladder, as an update of a live book does, and the exchange moves or resizes only those. The
flow is a Poisson stream of market orders whose side leans with the last price move (momentum
traders) and whose sizes are heavy-tailed, so some sweep several levels. The simulator only
says what to place; the venue sends it through the matching engine so that the user's orders
trade against it.

Each market draws from its own ``random.Random`` seeded from the venue seed and the symbol (the
shared ``MarketFactor`` from the seed alone), and ``state``/``restore`` carry them across a
restart, so a seed always gives the same market.
"""

from __future__ import annotations

import math
import random
from typing import Any, cast

from core.matching import BUY, SELL
from core.sim import LadderUpdate
from exchanges.paper.markets import MarketSpec
from exchanges.paper.replay import ReplayPath

LEVELS = 20
TOP_NOTIONAL = 20_000.0  # quote currency resting at the best level, before noise
HALF_SPREAD = 0.00002  # of the mid, at normal volatility
LEVEL_GAP = 0.00005  # of the mid, between levels
LEVEL_LIFE_S = 2.0  # how long a level below the best keeps its size, on average
REGRID = 0.25  # the grid is laid again when the gap LEVEL_GAP asks for is this far from its own
FLOW_PER_SECOND = 3.0  # market orders per simulated second
FLOW_SIZE = 0.15  # median market order, as a share of the best level's size
VOL_MEMORY_S = 600.0  # how long a volatility burst lasts
VOL_SPREAD = 0.6  # standard deviation of the log volatility multiplier
REGIME_MEAN_S = 900.0
TREND_DRIFT = 0.05  # trend drift per second, in units of the base volatility
RANGE_PULL_S = 300.0  # how fast a range pulls the price back to its anchor
JUMP_EVERY_S = 1800.0
JUMP_SIZE = 40.0  # standard deviation of a jump, in units of the base volatility
FACTOR_LOADING = 0.9  # on the market-wide shock; with the shared volatility, markets correlate ~0.7
_OWN_LOADING = math.sqrt(1 - FACTOR_LOADING**2)
VOL_COMMON_SHARE = 0.8  # of the log volatility that is market-wide (0.8^2 + 0.6^2 = 1)
VOL_OWN_SHARE = 0.6
BASIS_MEMORY_S = 300.0  # how long a perpetual's premium over spot lasts
BASIS_SPREAD = 0.0003  # standard deviation of that premium (3 basis points)
HISTORY_MINUTES = 600
HISTORY_POINTS_PER_MINUTE = 4
POINTS_PER_CANDLE = 12  # in history further back than the seeded minutes
MIN_HISTORY_STEP_MS = 15_000
_DEPTH = tuple(1 + 0.25 * i for i in range(1, LEVELS))  # each level below the best: its size over the best's


def _next_log_vol(rng: random.Random, log_vol: float, dt: float) -> float:
    """One step of the mean-reverting log volatility multiplier (stationary sd VOL_SPREAD)."""
    keep = math.exp(-dt / VOL_MEMORY_S)
    return log_vol * keep + VOL_SPREAD * math.sqrt(1 - keep * keep) * rng.gauss(0.0, 1.0)


class MarketFactor:
    """What all simulated markets share each step: a standard normal shock, the market-wide
    volatility level and the jumps (crypto crashes together). The venue advances it once per
    step, before the markets."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}:market")
        self.log_vol = 0.0
        self.shock = 0.0
        self.jump = 0.0  # in standard deviations of a jump; 0 on most steps

    def advance(self, dt: float) -> None:
        self.log_vol = _next_log_vol(self.rng, self.log_vol, dt)
        self.shock = self.rng.gauss(0.0, 1.0)
        self.jump = self.rng.gauss(0.0, 1.0) if self.rng.random() < dt / JUMP_EVERY_S else 0.0
        if self.jump:
            self.log_vol += 0.7

    def state(self) -> dict[str, Any]:
        version, internal, gauss_next = self.rng.getstate()
        return {"log_vol": self.log_vol, "shock": self.shock, "jump": self.jump,
                "rng": [version, list(internal), gauss_next]}

    def restore(self, state: dict[str, Any]) -> None:
        self.log_vol = state["log_vol"]
        self.shock = state["shock"]
        self.jump = state["jump"]
        version, internal, gauss_next = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss_next))


class MarketSimulator:
    def __init__(
        self, spec: MarketSpec, seed: int, replay: ReplayPath | None = None, leader: MarketSimulator | None = None
    ) -> None:
        """``leader``: the spot market a perpetual follows (its own walk is then unused)."""
        self.spec = spec
        self.seed = seed
        self.replay = replay
        self.leader = leader
        self.basis = 0.0  # log premium over the leader
        self.rng = random.Random(f"{seed}:{spec.instrument.symbol}")
        self.tick = float(spec.instrument.tick_size)
        self.lot = float(spec.instrument.lot_size)
        self.base_vol = spec.volatility
        self.price = float(spec.start_price)
        self.anchor = self.price
        self.log_vol = 0.0  # this market's own volatility level
        self.vol_log = 0.0  # the level in force: own, or blended with the market-wide one
        self.regime = 0
        self.regime_left = self.rng.expovariate(1 / REGIME_MEAN_S)
        self.pressure = 0.0  # the last move in standard deviations, which the flow follows
        self.gap = 0  # ticks between the ladder's levels below the best; 0 until it is first laid
        # the levels below the best of each side: the price in ticks of the first (the grid's
        # nearest to the best) and the lots of each, outwards a gap apart (None: no level there)
        self.grid_from = {SELL: 0, BUY: 0}
        self.grid: dict[int, list[int | None]] = {SELL: [], BUY: []}
        self.best = (0, 0)  # prices in ticks of the best ask and bid (0: none yet)
        self.best_lots = (0, 0)
        self.version = 0  # ladders made (``requote``), or laid another way (``restore``)

    @property
    def mid_ticks(self) -> int:
        return max(1, round(self.price / self.tick))

    def advance(self, dt: float, factor: MarketFactor | None = None) -> float:
        """Move the mid by ``dt`` simulated seconds and return it. ``factor`` (already
        advanced for this step) makes the markets sharing it move together. A follower must
        be advanced after its leader."""
        if self.leader is not None:
            new = self._follow(dt)
        else:
            self.log_vol = _next_log_vol(self.rng, self.log_vol, dt)
            self.vol_log = self.log_vol if factor is None else (
                VOL_COMMON_SHARE * factor.log_vol + VOL_OWN_SHARE * self.log_vol)
            self.regime_left -= dt
            if self.regime_left <= 0:
                self.regime = self.rng.choice((-1, 0, 0, 1))
                self.regime_left = self.rng.expovariate(1 / REGIME_MEAN_S)
                self.anchor = self.price
            new = self.replay.advance(dt) if self.replay is not None else self._walk(dt, factor)
        scale = self.base_vol * math.exp(self.vol_log) * math.sqrt(dt)
        self.pressure = max(-3.0, min(3.0, math.log(new / self.price) / scale)) if scale > 0 else 0.0
        self.price = max(new, self.tick)
        return self.price

    def _walk(self, dt: float, factor: MarketFactor | None) -> float:
        rng = self.rng
        if self.regime == 0:
            drift = -math.log(self.price / self.anchor) / RANGE_PULL_S
        else:
            drift = self.regime * TREND_DRIFT * self.base_vol
        shock = rng.gauss(0.0, 1.0)
        if factor is not None:
            shock = FACTOR_LOADING * factor.shock + _OWN_LOADING * shock
            jump = factor.jump
        else:
            jump = rng.gauss(0.0, 1.0) if rng.random() < dt / JUMP_EVERY_S else 0.0
            if jump:
                self.log_vol += 0.7
        move = drift * dt + self.base_vol * math.exp(self.vol_log) * math.sqrt(dt) * shock
        return self.price * math.exp(move + jump * JUMP_SIZE * self.base_vol)

    def _follow(self, dt: float) -> float:
        """A perpetual trades at its spot market's price times a small mean-reverting basis."""
        assert self.leader is not None
        keep = math.exp(-dt / BASIS_MEMORY_S)
        self.basis = self.basis * keep + BASIS_SPREAD * math.sqrt(1 - keep * keep) * self.rng.gauss(0.0, 1.0)
        self.vol_log = self.leader.vol_log
        return self.leader.price * math.exp(self.basis)

    def requote(self, dt: float = 0.0) -> LadderUpdate:
        """Move the liquidity ladder ``dt`` simulated seconds on, and say what changed.

        The best level of each side sits half the spread from the mid with a size drawn anew.
        The others rest on the multiples of ``gap`` ticks beyond it and keep their sizes
        (LEVEL_LIFE_S on average) while the mid moves: a level comes in as the mid moves away
        from it, one goes out at the far end, and a few are redrawn. So ~8 of the 40 levels
        change in a step of the app's market, and only those are what the exchange is told:
        making all 40 here and checking them there was half of a market's step. The ladder is
        kept in ``state``."""
        rng = self.rng
        lognormal, uniform = rng.lognormvariate, rng.random
        mid = self.mid_ticks
        half = max(1, round(self.price * HALF_SPREAD * (0.5 + 0.5 * math.exp(self.vol_log)) / self.tick))
        wanted_gap = max(1, round(self.price * LEVEL_GAP / self.tick))
        last_gap = self.gap
        if abs(wanted_gap - last_gap) > REGRID * last_gap:
            self.gap = wanted_gap
        gap = self.gap
        top = self._top_lots()
        redraw = -math.expm1(-dt / LEVEL_LIFE_S)
        best_ask, best_bid = mid + half, mid - half
        placed = [(-best_ask, max(1, round(top * lognormal(0.0, 0.35))))]
        if best_bid > 0:
            placed.append((best_bid, max(1, round(top * lognormal(0.0, 0.35)))))
        ask = first_ask = (best_ask // gap + 1) * gap
        bid = first_bid = (best_bid - 1) // gap * gap
        removed: list[int] = []
        asks = self._move_grid(SELL, first_ask, last_gap, best_ask, removed)
        bids = self._move_grid(BUY, first_bid, last_gap, best_bid, removed)
        place = placed.append
        for i, depth in enumerate(_DEPTH):
            lots = asks[i]
            if lots is None or uniform() < redraw:
                asks[i] = lots = max(1, round(top * depth * lognormal(0.0, 0.35)))
                place((-ask, lots))
            if bid > 0:
                lots = bids[i]
                if lots is None or uniform() < redraw:
                    bids[i] = lots = max(1, round(top * depth * lognormal(0.0, 0.35)))
                    place((bid, lots))
            ask += gap
            bid -= gap
        # the last best levels go unless this ladder has a level at their price
        last_ask, last_bid = self.best
        if last_ask and last_ask != best_ask and not (first_ask <= last_ask < ask and (last_ask - first_ask) % gap == 0):
            removed.append(-last_ask)
        if last_bid > 0 and last_bid != best_bid and not (bid < last_bid <= first_bid and (first_bid - last_bid) % gap == 0):
            removed.append(last_bid)
        self.best = (best_ask, best_bid)
        self.best_lots = (placed[0][1], placed[1][1] if best_bid > 0 else 0)
        since = self.version
        self.version += 1
        return LadderUpdate(self, since, self.version, removed, placed, self.levels)

    def _move_grid(self, side: int, first: int, last_gap: int, best: int, removed: list[int]) -> list[int | None]:
        """Lay one side's grid from ``first`` (at the ``gap`` in force): the lots the levels
        it shares with the last grid keep (None for the others); the signed keys of those that
        fall off it go to ``removed``, unless one is this side's best level now."""
        outward = -side  # asks go up from their first level, bids down
        last_first, lots = self.grid_from[side], self.grid[side]
        shift = (first - last_first) * outward // last_gap if last_gap == self.gap else len(_DEPTH)
        kept: list[int | None]
        if shift >= 0:
            kept, gone = lots[shift:], range(min(shift, len(lots)))
        else:
            come = min(-shift, len(_DEPTH))
            kept, gone = [None] * come, range(len(_DEPTH) - come, len(lots))
            kept += lots[:len(_DEPTH) - come]
        for i in gone:
            if lots[i] is not None:
                price = last_first + outward * i * last_gap
                if price != best:
                    removed.append(side * price)
        kept += [None] * (len(_DEPTH) - len(kept))
        self.grid_from[side], self.grid[side] = first, kept
        return kept

    def levels(self) -> list[tuple[int, int, int]]:
        """(side, price in ticks, lots) of the liquidity ladder ``requote`` laid, best first,
        alternating sides so that neither side is placed wholly before the other."""
        (best_ask, best_bid), (ask_lots, bid_lots) = self.best, self.best_lots
        ladder = [(SELL, best_ask, ask_lots)]
        if best_bid > 0:
            ladder.append((BUY, best_bid, bid_lots))
        ask, bid, gap = self.grid_from[SELL], self.grid_from[BUY], self.gap
        # every level of the grid has its lots after ``requote``, but the bids past zero
        for above, below in zip(self.grid[SELL], self.grid[BUY], strict=True):
            ladder.append((SELL, ask, cast("int", above)))
            if bid > 0:
                ladder.append((BUY, bid, cast("int", below)))
            ask += gap
            bid -= gap
        return ladder

    def flow(self, dt: float) -> list[tuple[int, int]]:
        """(side, lots) of the market orders arriving during ``dt`` seconds."""
        rng = self.rng
        orders: list[tuple[int, int]] = []
        if self.replay is not None:
            # lognormal(0, 1) has mean e^0.5: divide it out so the flow trades the recorded volume
            median = max(1.0, self.replay.volume_per_second() / self.lot / FLOW_PER_SECOND / math.exp(0.5))
        else:
            median = max(1.0, self._top_lots() * FLOW_SIZE)
        buy_share = 0.5 + 0.3 * math.tanh(self.pressure)
        elapsed = rng.expovariate(FLOW_PER_SECOND)
        while elapsed < dt:
            side = BUY if rng.random() < buy_share else SELL
            orders.append((side, max(1, round(median * rng.lognormvariate(0.0, 1.0)))))
            elapsed += rng.expovariate(FLOW_PER_SECOND)
        return orders

    def history(self, end_ms: int, minutes: int = HISTORY_MINUTES) -> list[tuple[int, float, float]]:
        """(ts, price, size) of past trades over whole minutes before ``end_ms``'s minute,
        ending at the current price: candles for charts and strategies from the first second.
        They come from their own random stream, so the live market is the same without them."""
        if self.leader is not None:
            premium = self.price / self.leader.price
            return [(ts, price * premium, size) for ts, price, size in self.leader.history(end_ms, minutes)]
        rng = random.Random(f"{self.seed}:{self.spec.instrument.symbol}:history")
        dt = 60.0 / HISTORY_POINTS_PER_MINUTE
        path, noise = self._history_walk(rng, minutes * HISTORY_POINTS_PER_MINUTE, dt)
        start = end_ms - end_ms % 60_000 - minutes * 60_000
        size = self._top_lots() * self.lot * FLOW_SIZE * FLOW_PER_SECOND * dt
        return [(start + int(i * dt * 1000), self.price * math.exp(p - path[-1]), size * n)
                for i, (p, n) in enumerate(zip(path, noise, strict=True))]

    def extend_history(self, first: tuple[int, float], period_ms: int, oldest_ms: int) -> list[tuple[int, float, float]]:
        """(ts, price, size) of trades before ``first`` (the oldest trade so far: ts, price) back to
        ``oldest_ms``, for candles of ``period_ms``: history further back than was seeded, asked
        for when it is needed (the agents' 1h candles), not at start. The path walks backwards
        from ``first`` with points only as close as those candles need (POINTS_PER_CANDLE a
        candle, so 300 hours cost 3,600 points), from a stream of its own: the same request gives
        the same candles, and the live market is the same without them."""
        if self.leader is not None:
            premium = self.price / self.leader.price
            leader_first = (first[0], first[1] / premium)
            return [(ts, price * premium, size) for ts, price, size in self.leader.extend_history(leader_first, period_ms, oldest_ms)]
        rng = random.Random(f"{self.seed}:{self.spec.instrument.symbol}:history:before:{first[0]}")
        step_ms = max(MIN_HISTORY_STEP_MS, period_ms // POINTS_PER_CANDLE)
        dt = step_ms / 1000
        path, noise = self._history_walk(rng, max(0, -(-(first[0] - oldest_ms) // step_ms)), dt)
        size = self._top_lots() * self.lot * FLOW_SIZE * FLOW_PER_SECOND * dt
        return [(first[0] - (i + 1) * step_ms, first[1] * math.exp(-p), size * n)
                for i, (p, n) in reversed(list(enumerate(zip(path, noise, strict=True))))]

    def _history_walk(self, rng: random.Random, count: int, dt: float) -> tuple[list[float], list[float]]:
        """``count`` steps of ``dt`` seconds of the history's log price (cumulative: diffusion at
        a clustering volatility, and rare jumps) and each step's lognormal size factor. One flat
        loop over one stream: the charts ask for tens of thousands of steps a market when a
        terminal starts, and a longer walk begins as a shorter one did."""
        gauss, uniform, exp = rng.gauss, rng.random, math.exp
        keep = exp(-dt / VOL_MEMORY_S)
        vol_shock = VOL_SPREAD * math.sqrt(1 - keep * keep)
        scale, jump_chance, jump_size = self.base_vol * math.sqrt(dt), dt / JUMP_EVERY_S, JUMP_SIZE * self.base_vol
        log_vol = log_price = 0.0
        path, noise = [], []
        for _ in range(count):
            log_vol = log_vol * keep + vol_shock * gauss()
            log_price += scale * exp(log_vol) * gauss()
            if uniform() < jump_chance:
                log_price += jump_size * gauss()
            path.append(log_price)
            noise.append(exp(0.5 * gauss()))
        return path, noise

    def _grid_levels(self, side: int) -> list[list[int]]:
        """[price in ticks, lots] of one side's levels below the best, as ``state`` keeps them."""
        first, outward = self.grid_from[side], -side
        return [[first + outward * i * self.gap, lots] for i, lots in enumerate(self.grid[side]) if lots is not None]

    def _top_lots(self) -> float:
        return TOP_NOTIONAL / self.price / self.lot

    def state(self) -> dict[str, Any]:
        version, internal, gauss_next = self.rng.getstate()
        return {
            "price": self.price, "anchor": self.anchor, "log_vol": self.log_vol, "vol_log": self.vol_log,
            "regime": self.regime,
            "regime_left": self.regime_left, "pressure": self.pressure, "basis": self.basis,
            "gap": self.gap, "ladder": [[side, self._grid_levels(side)] for side in (SELL, BUY)],
            "rng": [version, list(internal), gauss_next],
            "replay_elapsed": self.replay.elapsed if self.replay is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.price = state["price"]
        self.anchor = state["anchor"]
        self.log_vol = state["log_vol"]
        self.vol_log = state["vol_log"]
        self.regime = state["regime"]
        self.regime_left = state["regime_left"]
        self.pressure = state["pressure"]
        self.basis = state.get("basis", 0.0)
        # a state saved before the ladder was kept lays it afresh
        self.gap = state.get("gap", 0)
        self.grid_from, self.grid = {SELL: 0, BUY: 0}, {SELL: [], BUY: []}
        for side, levels in state.get("ladder", []):
            if levels:
                lots = dict(levels)
                first = self.grid_from[side] = min(lots) if side == SELL else max(lots)
                self.grid[side] = [lots.get(first - side * i * self.gap) for i in range(len(_DEPTH))]
        self.version += 1  # not the ladder any update so far made
        version, internal, gauss_next = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss_next))
        if self.replay is not None and state.get("replay_elapsed") is not None:
            self.replay.elapsed = state["replay_elapsed"]
