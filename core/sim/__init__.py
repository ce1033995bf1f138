"""The simulated exchange: matching engines, an account with margin, and the orders on them.

One implementation behind the paper venue, the ccxt paper mode and the event backtester; each
adds only its own market (a seeded simulation, a live book, replayed candles).
"""

from core.sim.account import Account, Hold
from core.sim.exchange import Change, LadderUpdate, SimExchange, SimOrder

__all__ = ["Account", "Change", "Hold", "LadderUpdate", "SimExchange", "SimOrder"]
