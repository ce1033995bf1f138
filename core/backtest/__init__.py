"""Backtesting: candles and trades loaded and checked (``data``), the event-driven backtester
over the matching engine (``engine``) and the vectorised path (``fast``), metrics, exports
(``report``), the optimiser (``optimizer``) and the daily review that evolves parameters
(``evolve``)."""
