"""Tokens and who may do what: hashed storage, revocation at once, failed attempts audited and
rate-limited per address, an actor's own level capped by the profile, tokens kept out of logs."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import GatewayConfig, PermissionsConfig
from core.engine import TradingEngine
from core.permissions import Actor, Level, PermissionDenied, Permissions
from core.redact import MASK, RedactingFilter, redact
from gateway.server import Gateway
from gateway.tokens import TokenError, TokenStore, digest
from tests.gateway.conftest import Api


def test_a_token_is_kept_only_as_its_hash_in_a_private_file(isolated_home: Path) -> None:
    store = TokenStore(isolated_home)
    token = store.create("bot", Level.TRADE, 1)
    assert token.startswith("otk_") and len(token) == 47
    text = store.path.read_text()
    assert token not in text and digest(token) in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [(r.name, r.level) for r in store.listing()] == [("bot", Level.TRADE)]
    assert store.lookup(token) is not None and store.lookup(token + "x") is None


def test_token_names_are_checked_and_unique(isolated_home: Path) -> None:
    store = TokenStore(isolated_home)
    store.create("bot", Level.TRADE, 1)
    for name, problem in (("bot", "exists already"), ("local", "the gateway's own token"), ("Bad Name", "lower-case")):
        with pytest.raises(TokenError, match=problem):
            store.create(name, Level.READ_ONLY, 1)
    with pytest.raises(TokenError, match=r"no token named 'nobody' \(tokens: bot\)"):
        store.revoke("nobody")


def test_an_unreadable_tokens_file_leaves_no_token_valid(isolated_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = TokenStore(isolated_home)
    token = store.create("bot", Level.TRADE, 1)
    assert store.lookup(token) is not None
    store.path.write_text('{"tokens": [{"name": "bot"')
    assert store.lookup(token) is None
    assert "no API token is valid until this is fixed" in caplog.text


def test_an_actor_gets_the_lower_of_its_level_and_the_profiles() -> None:
    admin = Permissions(PermissionsConfig())
    reader = Actor("api:bot", Level.READ_ONLY, "token 'bot'")
    assert admin.level_of(reader) is Level.READ_ONLY and admin.level_of("user") is Level.ADMIN
    with pytest.raises(PermissionDenied, match="^token 'bot' is read_only: placing orders needs the trade level$"):
        admin.require(Level.TRADE, "placing orders", reader)
    watcher = Permissions(PermissionsConfig(profile="w", profiles={"w": "read_only"}))  # type: ignore[dict-item]
    with pytest.raises(PermissionDenied, match="^profile 'w' is read_only: placing orders needs the trade level$"):
        watcher.require(Level.TRADE, "placing orders", Actor("api:boss", Level.ADMIN))
    assert not admin.allows(Level.TRADE, Actor("risk", Level.READ_ONLY)), "a token is never a system actor"
    assert reader == "api:bot" and json.dumps(reader) == '"api:bot"'


async def test_no_token_wrong_token_and_malformed_header_are_401(api: Api, engine: TradingEngine) -> None:
    for headers, reason in (
        ({}, "no token: send 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer otk_not-a-real-token-at-all-0000000000000"}, "unknown or revoked token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "the Authorization header must be 'Bearer <token>'"),
    ):
        reply = await api.call("GET", "/status", None, headers=headers)
        assert reply.status == 401 and reply.body["reason"].startswith(reason)
    failed = await engine.db.audit_entries(kind="auth_failed")
    assert [e.payload["reason"] for e in failed] == ["unknown or revoked token", "the Authorization header must be 'Bearer <token>'"]
    assert failed[0].payload["peer"] == "127.0.0.1" and failed[0].payload["path"] == "/api/v1/status"
    assert "otk_" not in json.dumps([e.payload for e in failed])


async def test_failed_attempts_lock_the_address_out_for_the_window(
    engine: TradingEngine, isolated_home: Path, clock: SimClock, tokens: dict[str, str]
) -> None:
    import aiohttp

    gateway = Gateway(engine, isolated_home, GatewayConfig(port=0, auth_failures=3, auth_window=60))
    await gateway.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(gateway, session, {**tokens, "wrong": "otk_wrongwrongwrongwrongwrongwrongwrongwrong0"})
            assert [(await api.call("GET", "/status", "wrong")).status for _ in range(3)] == [401, 401, 401]
            locked = await api.call("GET", "/status", "boss")
            assert locked.status == 429 and "too many failed authentications from 127.0.0.1" in locked.body["reason"]
            assert [(await api.call("GET", "/status", "wrong")).status for _ in range(20)] == [429] * 20
            assert [e.kind for e in await engine.db.audit_entries(actor="api")] == [
                "auth_failed", "auth_failed", "auth_locked_out"], "a flood is not audited entry by entry"
            clock.advance(60_001)
            assert (await api.call("GET", "/status", "boss")).status == 200
    finally:
        await gateway.stop()


async def test_a_revoked_token_stops_working_at_the_next_request(api: Api, isolated_home: Path) -> None:
    assert (await api.call("GET", "/status", "trader")).status == 200
    TokenStore(isolated_home).revoke("trader")
    assert (await api.call("GET", "/status", "trader")).body["reason"] == "unknown or revoked token"
    new = TokenStore(isolated_home).create("trader", Level.READ_ONLY, 2)
    api.tokens["trader"] = new
    assert (await api.call("GET", "/health", "trader")).body["level"] == "read_only"


async def test_the_local_token_acts_with_the_profiles_level(api: Api, gateway: Gateway, isolated_home: Path) -> None:
    announced = json.loads((isolated_home / "gateway.json").read_text())
    assert stat.S_IMODE((isolated_home / "gateway.json").stat().st_mode) == 0o600
    assert announced["url"] == gateway.url and announced["epoch"] == gateway.epoch
    api.tokens["local"] = announced["local_token"]
    health = (await api.call("GET", "/health", "local")).body
    assert (health["actor"], health["level"]) == ("api:local", "admin")


async def test_the_announcement_goes_with_a_clean_stop(engine: TradingEngine, isolated_home: Path) -> None:
    gateway = Gateway(engine, isolated_home, GatewayConfig(port=0))
    await gateway.start()
    assert (isolated_home / "gateway.json").exists()
    await gateway.stop()
    assert not (isolated_home / "gateway.json").exists()
    assert [e.kind for e in await engine.db.audit_entries(actor="gateway")] == ["gateway_start", "gateway_stop"]


def test_tokens_are_masked_by_their_shape_in_any_text() -> None:
    token = "otk_" + "A1b2_C3-" * 5 + "xyz"
    assert redact(f"Authorization: Bearer {token}") == f"Authorization: Bearer {MASK}"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s", (token,), None)
    RedactingFilter().filter(record)
    assert token not in record.getMessage()


async def test_a_stopped_gateway_no_longer_listens_to_the_engine(engine: TradingEngine, isolated_home: Path) -> None:
    listeners = len(engine.bus._listeners)  # noqa: SLF001
    gateway = Gateway(engine, isolated_home, GatewayConfig(port=0))
    await gateway.start()
    assert len(engine.bus._listeners) == listeners + 1  # noqa: SLF001
    await gateway.stop()
    assert len(engine.bus._listeners) == listeners, "the hub's listener went with it"  # noqa: SLF001
