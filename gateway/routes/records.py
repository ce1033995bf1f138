"""What happened: the audit log (a page at a time, and its verification) and the agents'
latest decisions."""

from __future__ import annotations

from core.api import AuditPage, AuditQuery
from core.events import AgentDecision
from core.storage.audit import AuditVerification
from gateway.routing import Call, Routes

routes = Routes("records")


@routes.route("GET", "/audit", summary="Audit entries, newest page first; page back with before_seq",
              response=AuditPage, query=AuditQuery)
async def audit(call: Call) -> AuditPage:
    q = call.query
    entries = await call.engine.db.audit_entries(kind=q.kind, actor=q.actor, symbol=q.symbol, since_ms=q.since_ms,
                                                 before_seq=q.before_seq, limit=q.limit)
    more = len(entries) == q.limit and entries[0].seq > 1
    return AuditPage(entries=entries, next_before_seq=entries[0].seq if more else None)


@routes.route("GET", "/audit/verify", summary="Recompute the audit log's hash chain", response=AuditVerification)
async def verify(call: Call) -> AuditVerification:
    return await call.engine.db.verify_audit()


@routes.route("GET", "/agents/decisions", summary="The analysis agents' latest decision per market",
              response=list[AgentDecision])
async def decisions(call: Call) -> list[AgentDecision]:
    return call.engine.latest_decisions()
