"""Real exchanges through ccxt. ccxt itself is imported lazily, on first use of a venue."""

from exchanges.ccxt.venue import CcxtVenue

__all__ = ["CcxtVenue"]
