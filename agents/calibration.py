"""Confidence calibration: what an agent's stated confidence has actually been worth.

An agent that says 0.8 and is right half the time deserves 0 in the fusion. ``Calibration.fit``
takes past (confidence, was the direction right) pairs, bins them, makes the hit rate
non-decreasing in confidence (pool adjacent violators) and maps a hit rate h to a calibrated
confidence 2h - 1: a coin flip is worth nothing, always right is worth 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from core.models import AgentOpinion, Direction


class Calibration:
    """A monotone piecewise-linear map from stated to calibrated confidence."""

    def __init__(self, points: Sequence[tuple[float, float]] = ((0.0, 0.0), (1.0, 1.0))) -> None:
        if len(points) < 2:
            raise ValueError("a calibration needs at least two points")
        xs = np.array([p[0] for p in points], dtype=np.float64)
        ys = np.array([p[1] for p in points], dtype=np.float64)
        if np.any(np.diff(xs) <= 0):
            raise ValueError("calibration points must have increasing confidences")
        if np.any((ys < 0) | (ys > 1)):
            raise ValueError("calibrated confidences must be within [0, 1]")
        self.xs, self.ys = xs, ys

    def __call__(self, confidence: float) -> float:
        return float(np.interp(confidence, self.xs, self.ys))

    @property
    def points(self) -> list[tuple[float, float]]:
        return [(float(x), float(y)) for x, y in zip(self.xs, self.ys, strict=True)]

    @classmethod
    def fit(cls, confidences: Sequence[float], correct: Sequence[bool], bins: int = 5) -> Calibration:
        c = np.asarray(confidences, dtype=np.float64)
        hit = np.asarray(correct, dtype=np.float64)
        if len(c) != len(hit):
            raise ValueError("confidences and outcomes must have the same length")
        if len(c) < bins * 5:
            raise ValueError(f"{len(c)} outcomes are too few to calibrate {bins} bins (need {bins * 5})")
        order = np.argsort(c, kind="stable")
        groups = np.array_split(order, bins)
        centres = [float(c[g].mean()) for g in groups]
        rates = _pool_adjacent_violators([float(hit[g].mean()) for g in groups], [len(g) for g in groups])
        values = np.clip(2.0 * np.asarray(rates) - 1.0, 0.0, 1.0)
        points: list[tuple[float, float]] = []
        for x, y in zip(centres, values, strict=True):
            if points and x <= points[-1][0]:
                points[-1] = (points[-1][0], max(points[-1][1], float(y)))
            else:
                points.append((x, float(y)))
        if points[0][0] > 0:
            points.insert(0, (0.0, 0.0))
        if points[-1][0] < 1:
            points.append((1.0, points[-1][1]))
        return cls(points)


def _pool_adjacent_violators(values: list[float], weights: list[int]) -> list[float]:
    """The closest non-decreasing sequence (weighted least squares)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value, float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    result: list[float] = []
    for mean, _, count in blocks:
        result.extend([mean] * int(count))
    return result


def fit_calibrations(
    history: Iterable[tuple[AgentOpinion, float]], bins: int = 5
) -> tuple[dict[str, Calibration], dict[str, str]]:
    """Calibrations per agent from opinions paired with the log return that followed them.

    Only buy and sell opinions with data count (a hold cannot be right or wrong), and flat
    outcomes are skipped. An agent with too few outcomes keeps its stated confidence; the second
    dictionary says which agents were skipped and why.
    """
    confidences: dict[str, list[float]] = {}
    outcomes: dict[str, list[bool]] = {}
    for opinion, forward_return in history:
        if not opinion.has_data or opinion.direction is Direction.HOLD or forward_return == 0:
            continue
        confidences.setdefault(opinion.agent, []).append(opinion.confidence)
        outcomes.setdefault(opinion.agent, []).append((forward_return > 0) == (opinion.direction is Direction.BUY))
    fitted: dict[str, Calibration] = {}
    skipped: dict[str, str] = {}
    for agent, stated in confidences.items():
        try:
            fitted[agent] = Calibration.fit(stated, outcomes[agent], bins)
        except ValueError as exc:
            skipped[agent] = str(exc)
    return fitted, skipped
