"""The analysis agents: a team that proposes trades and explains why.

Build the team from the configuration with ``agents.team.build_coordinator(config.agents, clock,
bus)``, give it an ``agents.base.AnalysisContext`` per symbol and timeframe, and
``await coordinator.decide(context)`` returns an ``agents.coordinator.Decision`` (every opinion,
the weights, the Signal and the Risk agent's verdict; ``to_dict()`` for storage and the audit
log). Agents import only ``core``.
"""
