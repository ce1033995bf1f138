"""The local L2 book: snapshot, sequenced deltas, gaps and duplicates, best-first levels."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from exchanges.ccxt.book import BookGap, LocalBook

D = Decimal


def book() -> LocalBook:
    b = LocalBook("binance", "BTC/USDT")
    b.apply_snapshot([(D("100"), D("1")), (D("99"), D("2"))], [(D("101"), D("1")), (D("102"), D("3"))], 10, 1)
    return b


def test_deltas_update_remove_and_add_levels_best_first() -> None:
    b = book()
    assert b.apply_delta(11, 12, [(D("100"), D("0")), (D("99.5"), D("4"))], [(D("100.5"), D("2"))], 2)
    top = b.snapshot(2)
    assert top.bids == [(D("99.5"), D("4")), (D("99"), D("2"))]
    assert top.asks == [(D("100.5"), D("2")), (D("101"), D("1"))]
    assert (b.sequence, top.ts) == (12, 2)


def test_a_delta_already_in_the_book_is_ignored() -> None:
    b = book()
    assert not b.apply_delta(5, 10, [(D("100"), D("9"))], [], 2)
    assert b.snapshot(1).bids == [(D("100"), D("1"))]


def test_a_gap_unsyncs_the_book_until_a_new_snapshot() -> None:
    b = book()
    with pytest.raises(BookGap, match="expected update 11, got 13..14"):
        b.apply_delta(13, 14, [], [], 2)
    assert not b.synced
    with pytest.raises(BookGap, match="no snapshot"):
        b.apply_delta(11, 11, [], [], 2)
    b.apply_snapshot([(D("100"), D("1"))], [(D("101"), D("1"))], 20, 3)
    assert b.apply_delta(21, 21, [(D("100"), D("5"))], [], 4)


def test_matches_a_plain_dictionary_model_over_random_deltas() -> None:
    rng = random.Random(3)
    b = LocalBook("x", "BTC/USDT")
    b.apply_snapshot([], [], 0, 0)
    model: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    for seq in range(1, 2001):
        side = rng.choice("ba")
        price = D(rng.randint(1, 60)) + (0 if side == "b" else 100)
        size = D(rng.choice([0, 0, 1, 2, 3]))
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)
        b.apply_delta(seq, seq, [(price, size)] if side == "b" else [], [(price, size)] if side == "a" else [], seq)
    top = b.snapshot(10)
    assert top.bids == sorted(model["b"].items(), reverse=True)[:10]
    assert top.asks == sorted(model["a"].items())[:10]
