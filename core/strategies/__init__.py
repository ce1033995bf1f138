"""Strategies: the base class with declared parameters (``base``), the families (``sma_cross``,
``ai_trend``, ``mean_reversion``, ``grid``, ``arbitrage``), the registry that builds them from
the configuration (``registry``), and the StrategyEngine that runs them over a host — the
TradingEngine live, the backtester in a backtest (``runner``)."""
