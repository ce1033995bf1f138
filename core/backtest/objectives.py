"""The metrics an optimisation can maximise, apart from the optimiser (numpy and the backtester):
the command line lists them in its help."""

OBJECTIVES = ("sharpe", "sortino", "calmar", "total_return", "cagr", "profit_factor", "win_rate", "final_equity", "max_drawdown")
