"""Secrets are masked whole, whichever was registered first: a secret that contains another
never shows what is left of it around the shorter one's mask."""

from __future__ import annotations

from core.redact import MASK, redact, register_secret


def test_a_secret_holding_another_is_masked_whole() -> None:
    core = "zq8-shared-core"
    nested = [core]
    for i in range(20):  # each wraps the one before: masking any shorter one first would leave a residue
        nested.append(f"w{i}-{nested[-1]}-{i}w")
    for secret in nested:
        register_secret(secret)
    assert redact(f"GET /account?sig={nested[-1]}&x=1") == f"GET /account?sig={MASK}&x=1"
    assert redact(f"key {core} alone") == f"key {MASK} alone"
