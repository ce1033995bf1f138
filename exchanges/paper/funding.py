"""Funding of the simulated perpetuals from their own basis, the way Binance, Bybit and OKX
compute it: the premium of the perpetual over its index (here its simulated spot market),
averaged over the funding interval with each step weighted by its length, plus the interest
rate clamped to 0.05% either side of that premium, the whole capped at 0.75%:

    F = P + clamp(I - P, -0.05%, +0.05%)

So a perpetual trading within a few basis points of spot pays the interest rate (0.01% per
8 hours, longs to shorts), and one held at a premium or a discount beyond that pays the excess
(a perpetual 0.2% over spot for the whole interval: 0.15%). A perpetual without its spot market
in the venue has no basis to measure and pays the interest rate.
"""

from __future__ import annotations

from decimal import Decimal

INTEREST = 0.0001  # per interval: 0.03% a day, as the exchanges set it
CLAMP = 0.0005
CAP = 0.0075


def funding_rate(premium: float) -> Decimal:
    rate = premium + min(max(INTEREST - premium, -CLAMP), CLAMP)
    return Decimal(f"{min(max(rate, -CAP), CAP):.8f}")


class PremiumIndex:
    """The time-weighted mean premium of one perpetual over the current funding interval."""

    def __init__(self) -> None:
        self.weighted = 0.0
        self.seconds = 0.0

    def add(self, premium: float, seconds: float) -> None:
        self.weighted += premium * seconds
        self.seconds += seconds

    @property
    def average(self) -> float:
        return self.weighted / self.seconds if self.seconds > 0 else 0.0

    def rate(self) -> Decimal:
        """The rate the interval would pay if it ended now (what exchanges show as 'predicted')."""
        return funding_rate(self.average)

    def reset(self) -> None:
        self.weighted = self.seconds = 0.0

    def state(self) -> list[float]:
        return [self.weighted, self.seconds]

    def restore(self, state: list[float]) -> None:
        self.weighted, self.seconds = float(state[0]), float(state[1])
