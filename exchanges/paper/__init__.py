"""The embedded paper venue (``venue.PaperVenue``): a simulated exchange.

``markets`` defines the instruments, ``simulator`` the seeded market (or ``replay`` recorded
candles), ``account`` balances and perpetual positions, ``state`` the SQLite file that makes
it survive restarts; matching is ``core.matching``.
"""
