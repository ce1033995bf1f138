"""Risk: the pre-trade gate, position monitoring, state transitions and position sizing."""

from core.risk.gauges import LimitUsage
from core.risk.manager import RiskManager
from core.risk.rules import RiskCheckResult
from core.risk.sizing import SIZING_METHODS, SizingError, equity_share, kelly_fraction

__all__ = [
    "SIZING_METHODS",
    "LimitUsage",
    "RiskCheckResult",
    "RiskManager",
    "SizingError",
    "equity_share",
    "kelly_fraction",
]
