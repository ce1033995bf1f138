"""Unified market symbols, as ccxt writes them: BASE/QUOTE for spot, BASE/QUOTE:SETTLE for
perpetuals, and dated contracts with their expiry after the settle currency
(BTC/USDT:USDT-250328). Checked where a person types one (the config, command options), so a
typo is refused with its reason instead of running on a market that does not exist."""

from __future__ import annotations

import re

_PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_UNIFIED = re.compile(rf"{_PART}/{_PART}(:{_PART})?")


def symbol_problem(symbol: str) -> str | None:
    """Why ``symbol`` is not a unified symbol, or None when it is one."""
    if _UNIFIED.fullmatch(symbol):
        return None
    return f"'{symbol}' is not a unified symbol like BTC/USDT or BTC/USDT:USDT"
