"""`opentrade web` as a person starts it: every refused flag or combination is one line and exit
2 before anything listens; --insecure is warned; TLS is served; each session's command line."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import aiohttp
import pytest

from cli.main import main
from core.permissions import Level
from gateway.tokens import TokenStore
from tests.gateway.test_cli import self_signed
from tests.web.conftest import opentrade_web
from web.server import OPENTRADE, session_command

PASSWORD = {"OPENTRADE_WEB_PASSWORD": "correct horse battery"}


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["web", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("opentrade web: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_another_address_without_tls_or_insecure_is_refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENTRADE_WEB_PASSWORD", "correct horse battery")
    err = refused(capsys, "--host", "0.0.0.0")
    assert "listening on 0.0.0.0 needs TLS: give --tls-cert and --tls-key, or --insecure" in err
    assert "needs TLS" in refused(capsys, "--host", "192.168.1.20")


def test_another_address_needs_something_to_log_in_with(capsys: pytest.CaptureFixture[str], isolated_home: Path) -> None:
    err = refused(capsys, "--host", "0.0.0.0", "--insecure")
    assert "listening on 0.0.0.0 needs a login, and nothing could log in: set OPENTRADE_WEB_PASSWORD" in err
    assert "--login asks for a login" in refused(capsys, "--login")


@pytest.mark.parametrize(("args", "message"), [
    (["--insecure"], "--insecure: 127.0.0.1 is reachable from this machine only and needs no TLS"),
    (["--tls-cert", "a.crt"], "give both --tls-cert and --tls-key, or neither"),
    (["--tls-key", "a.key"], "give both --tls-cert and --tls-key, or neither"),
    (["--tls-cert", "none.crt", "--tls-key", "none.key"], "--tls-cert/--tls-key: cannot load none.crt with none.key"),
    (["--tls-cert", "a.crt", "--tls-key", "a.key", "--insecure", "--host", "0.0.0.0"], "--insecure and --tls-cert: choose one"),
    (["--port", "70000"], "--port must be from 0 to 65535 (got 70000)"),
    (["--session-ttl", "0"], "--session-ttl must be a number of seconds greater than 0, at most 2592000 (30 days; got 0.0)"),
    (["--session-ttl", "inf"], "--session-ttl must be a number of seconds greater than 0, at most 2592000 (30 days; got inf)"),
    (["--session-ttl", "nan"], "(30 days; got nan)"),
])
def test_bad_flags_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert message in refused(capsys, *args)


def test_the_session_command_line() -> None:
    home, config = Path("/srv/my home"), Path("/etc/opentrade.yaml")
    assert session_command(home, config, "https://127.0.0.1:18790") == [
        OPENTRADE, "--home", "/srv/my home", "--config", "/etc/opentrade.yaml", "trade", "--attach", "https://127.0.0.1:18790"]
    assert session_command(home, None, None) == [OPENTRADE, "--home", "/srv/my home", "trade", "--attach"]
    assert Path(OPENTRADE).parent == Path(sys.executable).parent


def test_insecure_warns_at_start_and_still_asks_for_a_login(isolated_home: Path) -> None:
    with opentrade_web(isolated_home, "--host", "0.0.0.0", "--insecure", env=PASSWORD) as web:
        assert web.url.startswith("http://127.0.0.1:")
        warning = "".join(web.lines)
        assert "WARNING" in warning and "WITHOUT TLS (--insecure)" in warning and "clear text" in warning
        assert "correct horse battery" not in warning
        assert "login required" in warning
        assert web.stop() == 0


async def test_tls_is_served_and_a_token_logs_in(isolated_home: Path, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    token = TokenStore(isolated_home).create("laptop", Level.TRADE, 0)
    with opentrade_web(isolated_home, "--login", "--tls-cert", str(cert), "--tls-key", str(key)) as web:
        assert web.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: an IP address
            async with http.post(web.url + "login", data={"secret": token}, ssl=context, allow_redirects=False) as answer:
                assert answer.status == 302
                cookie = answer.headers["Set-Cookie"]
                assert "Secure" in cookie and "HttpOnly" in cookie
            async with http.get(web.url, ssl=context) as page:
                assert page.status == 200 and 'data-session-websocket-url="wss://' in await page.text()
        assert token not in "".join(web.lines)
        assert "web login from 127.0.0.1 with the token 'laptop'" in "".join(web.lines)
