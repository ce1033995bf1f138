"""The real `opentrade gateway` process and the scriptable commands against it: what a person
or a script sees (one line, a clear exit code, the app's refusal text, --json), a gateway killed
with SIGKILL and started again, TLS, and tokens that never reach a log."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main
from core.models import Order
from core.views import PositionView, StatusView

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
strategies: {}
agents: {enabled: false}
surveillance: {duplicate_window: 0}
venues:
  paper:
    markets: [BTC/USDT]
gateway:
  port: 0
"""


def opentrade(config: Path, home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "--config", str(config), "--home", str(home), *args]


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("OPENTRADE_")}, "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def announced_by(home: Path, pid: int) -> bool:
    try:
        return bool(json.loads((home / "gateway.json").read_text())["pid"] == pid)
    except (OSError, ValueError):
        return False


@contextmanager
def running_gateway(config: Path, home: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`opentrade gateway` until it has announced itself in the home (over a stale announcement
    a killed one left, if any)."""
    with log.open("ab") as out:
        process = subprocess.Popen(opentrade(config, home, "gateway", *args), stdout=out, stderr=out, cwd=ROOT, env=env())
    try:
        for _ in range(600):  # bounded: waiting for the process, not for time to pass
            if announced_by(home, process.pid) or process.poll() is not None:
                break
            time.sleep(0.05)
        assert announced_by(home, process.pid), log.read_text()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)


def run(config: Path, home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """A command as its own process, as a script runs it."""
    return subprocess.run(opentrade(config, home, *args), capture_output=True, text=True, cwd=ROOT, env=env(**extra),
                          timeout=60)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(config: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A command run in this process (the same `main` the script runs, without a new
    interpreter's start-up for each of the many calls)."""

    def call(*args: str, token: str | None = None, url: str | None = None, config_path: Path | None = None) -> Ran:
        for name, value in (("OPENTRADE_TOKEN", token), ("OPENTRADE_URL", url)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(["--config", str(config_path or config), "--home", str(isolated_home), *args])
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return call


def one_line(result: subprocess.CompletedProcess[str] | Ran) -> str:
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_the_scriptable_commands_against_a_running_gateway(config: Path, isolated_home: Path, tmp_path: Path, cli: Cli) -> None:
    home = isolated_home
    with running_gateway(config, home, tmp_path / "gateway.log") as gateway:
        status = run(config, home, "status")
        assert status.returncode == 0 and "engine      running (default venue paper)" in status.stdout
        healthy = cli("health")
        assert healthy.returncode == 0 and healthy.stdout.startswith("gateway ok, engine running (epoch "), healthy
        assert json.loads(cli("health", "--json").stdout)["actor"] == "api:local"
        parsed = StatusView.model_validate_json(cli("status", "--json").stdout)
        assert parsed.engine == "running" and parsed.risk_state.value == "active"

        refused = run(config, home, "order", "buy", "BTC/USDT", "0.01", "--price", "1000")
        assert refused.returncode == 4
        line = one_line(refused)
        assert line.startswith("refused: limit price 1,000.00 is ") and line.endswith("the fat-finger band is 5%")
        as_json = json.loads(cli("order", "buy", "BTC/USDT", "0.01", "--price", "1000", "--json").stdout)
        assert as_json["error"] == "refused" and as_json["rule"] == "fat_finger"
        bad = cli("order", "buy", "BTC/USDT", "-1")
        assert bad.returncode == 2 and one_line(bad) == "invalid: size: input should be greater than 0"

        bought = cli("order", "buy", "BTC/USDT", "0.01", "--json")
        assert bought.returncode == 0, bought.stderr
        assert Order.model_validate_json(bought.stdout).status.value == "filled"
        [position] = json.loads(cli("positions", "--json").stdout)
        assert PositionView.model_validate(position).levels is None, "no level nobody set"
        assert "BTC/USDT  long" in cli("positions").stdout
        closed = cli("close", "BTC/USDT")
        assert closed.returncode == 0 and closed.stdout.startswith("closing with ot-")
        nothing = cli("close", "BTC/USDT")
        assert (nothing.returncode, one_line(nothing)) == (4, "refused: nothing to close: no open BTC/USDT position on paper")

        assert cli("orders").stdout.strip() == "no open orders"
        resting = Order.model_validate_json(cli("order", "buy", "BTC/USDT", "0.001", "--price", "59000", "--json").stdout)
        assert resting.status.value == "open"
        moved = cli("modify", resting.client_order_id, "--price", "59100")
        assert moved.returncode == 0 and "59100" in moved.stdout
        assert cli("cancel", "--all").stdout.strip() == "canceled 1 order(s)"
        gone = cli("cancel", resting.client_order_id)
        refused = f"refused: order {resting.client_order_id} is already canceled"
        assert (gone.returncode, one_line(gone)) == (4, refused), "modify replaced it"
        assert "USDT" in cli("balances").stdout

        assert cli("stop").returncode == 0
        halted = cli("order", "buy", "BTC/USDT", "0.01")
        assert halted.returncode == 4 and "halted" in one_line(halted).lower()
        assert cli("resume").stdout.strip() == "Risk state reset: trading is active."
        assert cli("token", "create", "watcher", "--level", "read_only").returncode == 0
        assert json.loads(cli("token", "list", "--json").stdout)[0]["name"] == "watcher"
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(timeout=30) == 0
    assert not (home / "gateway.json").exists(), "a clean stop takes the announcement away"
    off = run(config, home, "status")
    assert off.returncode == 1
    assert cli("health").returncode == 1, "the container's health check fails once the gateway is gone"
    assert one_line(off) == f"opentrade: no gateway is running on {home}: start one with 'opentrade gateway', or give --url"


def test_levels_and_a_gateway_killed_and_started_again(config: Path, isolated_home: Path, tmp_path: Path, cli: Cli) -> None:
    home = isolated_home
    watcher = cli("token", "create", "watcher", "--level", "read_only").stdout.strip()
    log = tmp_path / "gateway.log"
    with running_gateway(config, home, log) as gateway:
        placed = Order.model_validate_json(cli("order", "buy", "BTC/USDT", "0.001", "--price", "59000", "--json").stdout)
        denied = cli("cancel", placed.client_order_id, token=watcher)
        assert (denied.returncode, one_line(denied)) == (
            5, "not allowed: token 'watcher' is read_only: canceling orders needs the trade level")
        second = cli("run", "--headless", "--duration", "5")
        assert second.returncode == 3 and f"PID {gateway.pid}: opentrade --config" in second.stderr, "the gateway holds the home"
        wrong = cli("status", token="otk_" + "x" * 43)
        assert (wrong.returncode, one_line(wrong)) == (5, "not allowed: unknown or revoked token")
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(timeout=20)
        stale = cli("orders")
        assert stale.returncode == 1
        assert one_line(stale).startswith("opentrade: no gateway is running: the announcement at ")
        assert f"is left from PID {gateway.pid}, which has ended" in stale.stderr
    with running_gateway(config, home, log):
        orders = json.loads(cli("orders", "--json").stdout)
        assert [o["client_order_id"] for o in orders] == [placed.client_order_id], "reconciled after the kill"
        assert cli("resume", token=watcher).returncode == 5


def test_refusals_before_the_engine_starts(config: Path, isolated_home: Path) -> None:
    exposed = run(config, isolated_home, "gateway", "--host", "0.0.0.0")
    assert exposed.returncode == 2
    assert "listening on 0.0.0.0 needs TLS: set gateway.tls_cert and gateway.tls_key in the config, or pass --insecure" in exposed.stderr
    assert "engine running" not in exposed.stderr
    live = run(config, isolated_home, "gateway", "--confirm-live", "paper")
    assert (live.returncode, live.stderr.strip()) == (2, "--confirm-live paper: there is no live venue of that name (live venues: none)")
    assert not (isolated_home / "gateway.json").exists()


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opentrade.test")])
    now = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365 * 30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "gateway.crt", directory / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_and_no_token_in_any_log(isolated_home: Path, tmp_path: Path, cli: Cli) -> None:
    cert, key = self_signed(tmp_path)
    config = tmp_path / "tls.yaml"
    config.write_text(CONFIG.replace("  port: 0", f"  port: 0\n  tls_cert: {cert}\n  tls_key: {key}") + "logging: {level: DEBUG}\n")
    token = cli("token", "create", "bot", "--level", "trade").stdout.strip()
    wrong = "otk_" + "w" * 43
    log = tmp_path / "gateway.log"
    with running_gateway(config, isolated_home, log) as gateway:
        announced = json.loads((isolated_home / "gateway.json").read_text())
        assert announced["url"].startswith("https://127.0.0.1:")
        assert cli("status", config_path=config).returncode == 0, "local clients check the gateway's own certificate"
        assert cli("status", config_path=config, token=token).returncode == 0
        assert cli("status", config_path=config, url=announced["url"] + "/api/v1/").returncode == 0, "the API's own URL works too"
        assert cli("status", config_path=config, token=wrong).returncode == 5
        plain = cli("status", config_path=config, token=token, url=announced["url"].replace("https", "http"))
        assert plain.returncode == 1 and "Traceback" not in plain.stderr
        other_name = announced["url"].replace("127.0.0.1", "localhost")
        untrusted = cli("status", config_path=config, token=token, url=other_name)
        assert untrusted.returncode == 1 and "certificate verify failed" in untrusted.stderr, "not the announced gateway: not pinned"
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=30)
    logs = log.read_text() + (isolated_home / "logs" / "opentrade.log").read_text()
    assert "GET /api/v1/status 200" in logs, "the requests were logged (at DEBUG)"
    for secret in (token, wrong, announced["local_token"]):
        assert secret not in logs


def test_attaching_the_app_refuses_in_one_line_before_the_screen(config: Path, cli: Cli) -> None:
    nobody = cli("trade", "--attach")
    assert nobody.returncode == 1
    assert one_line(nobody).startswith("opentrade trade --attach: no gateway is running on ")
    closed = cli("trade", "--attach", "http://127.0.0.1:9", token="otk_" + "x" * 43)
    assert closed.returncode == 1 and one_line(closed).startswith("opentrade trade --attach: no gateway answers at "
                                                                   "http://127.0.0.1:9")
    mixed = cli("trade", "--attach", "--mode", "live")
    assert (mixed.returncode, one_line(mixed)) == (2, "--mode: not with --attach (the gateway's engine trades as it "
                                                      "was started)")


def test_a_bad_token_is_refused_before_the_app_attaches(config: Path, isolated_home: Path, tmp_path: Path,
                                                       cli: Cli) -> None:
    with running_gateway(config, isolated_home, tmp_path / "gateway.log"):
        wrong = cli("trade", "--attach", json.loads((isolated_home / "gateway.json").read_text())["url"],
                    token="otk_" + "x" * 43)
    assert (wrong.returncode, one_line(wrong)) == (1, "opentrade trade --attach: unknown or revoked token")
