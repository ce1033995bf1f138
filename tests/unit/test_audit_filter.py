"""The audit filter narrows by kind, symbol, strategy and actor, then by free text."""

from __future__ import annotations

from tui.audit_filter import AuditFilter

ORDER = ("order", "strategy:btc_grid", {"symbol": "BTC/USDT", "strategy_id": "btc_grid", "status": "open"})
RISK = ("risk_state", "risk", {"old": "active", "new": "halted"})


def keep(text: str, entry: tuple) -> bool:  # type: ignore[type-arg]
    kind, actor, payload = entry
    return AuditFilter.parse(text).matches_entry(kind, actor, payload, str(payload))


def test_field_tokens() -> None:
    assert keep("kind:order", ORDER) and not keep("kind:order", RISK)
    assert keep("symbol:btc/usdt", ORDER) and not keep("symbol:ETH", ORDER)
    assert keep("strategy:grid", ORDER) and not keep("strategy:grid", RISK)
    assert keep("actor:risk", RISK) and not keep("actor:risk", ORDER)


def test_words_and_fields_must_all_match() -> None:
    assert keep("kind:risk halted", RISK)
    assert not keep("kind:risk open", RISK)
    assert keep("", ORDER) and keep("", RISK)


def test_unknown_field_names_are_plain_words() -> None:
    spec = AuditFilter.parse("status:open")
    assert spec.fields == {} and spec.words == ("status:open",)


def test_log_lines_match_every_token_as_text() -> None:
    spec = AuditFilter.parse("kind:engine running")
    assert spec.matches_text("INFO", "core.engine", "engine running with venues paper")
    assert not spec.matches_text("INFO", "core.engine", "engine stopped")
