"""Every failure is a message: input that ended in a traceback, or was accepted and then
produced nonsense, is refused through the real command line with one clear line on standard
error and a non-zero exit code."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CANDLES = ROOT / "tests" / "data" / "binance_BTC_USDT-1h-5000.csv"


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """Run the command; it must exit with ``code`` and explain itself on standard error."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.strip() and "Traceback" not in err
    return err


def opentrade(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a separate process: for runs whose logging set-up would outlive a test."""
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


# ----- configuration files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("venues:\n  paper: {}\n".encode("utf-16"), "it is UTF-16"),
        (b"\x00\x01\xc0\xff binary", "it looks like a binary file"),
        (b"venues:\n  paper:\n    seed: \xe9\n", "line 3 has the byte 0xe9, which UTF-8 does not allow"),
    ],
)
def test_a_config_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    err = refused(["--config", str(path), "config", "show"], capsys)
    assert f"{path}: a configuration file must be UTF-8 text; {says}: save it as UTF-8" in err


@pytest.mark.parametrize("content", ["", "\n\n", "# every setting commented out\n# trading:\n"])
def test_an_empty_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(content)
    err = refused(["--config", str(path), "config", "validate"], capsys)
    assert f"{path}: the file holds no settings (it is empty or all comments)" in err
    assert "built-in defaults" in err


@pytest.mark.parametrize(
    ("content", "where", "key"),
    [
        ("trading:\n  max_daily_loss: 100\nrisk_management: {}\ntrading:\n  max_daily_loss: 900\n", ":4:1", "trading"),
        ("risk_management:\n  max_leverage: 2\n  max_leverage: 20\n", ":3:3", "max_leverage"),
        ("trading: {max_daily_loss: 100, max_daily_loss: 900}\n", ":1:32", "max_daily_loss"),
    ],
)
def test_a_key_given_twice_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, where: str, key: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(content)
    err = refused(["--config", str(path), "config", "validate"], capsys)
    assert f"{path}{where}: YAML error: duplicate key '{key}' (first given on line " in err


def test_a_merged_key_may_be_overridden_but_not_repeated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("venues:\n  paper: &base {seed: 1}\n  other:\n    <<: *base\n    seed: 2\n")
    assert main(["--config", str(path), "config", "validate"]) == 0
    path.write_text("venues:\n  paper: &base {seed: 1}\n  other:\n    <<: *base\n    seed: 2\n    seed: 3\n")
    assert f"{path}:6:5: YAML error: duplicate key 'seed' (first given on line 5)" in refused(
        ["--config", str(path), "config", "validate"], capsys)


@pytest.mark.parametrize("amount", ["1e400", "1000000000000001"])
def test_an_absurd_balance_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], amount: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"venues:\n  paper:\n    balances: {{USDT: {amount}}}\n")
    err = refused(["--config", str(path), "config", "show"], capsys)
    assert f"{path}:3: venues.paper.balances: value error, balance of USDT must be at most 1,000,000,000,000,000" in err


def test_a_garbage_market_symbol_in_the_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("venues:\n  paper:\n    markets: ['garbage!!/USDT']\n")
    err = refused(["--config", str(path), "config", "validate"], capsys)
    assert "'garbage!!/USDT' is not a unified symbol" in err


# ----- storage ----------------------------------------------------------------------------------


def test_storage_path_in_a_directory_that_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {blocker / 'db' / 'opentrade.sqlite'}\nstrategies: {{}}\nagents: {{enabled: false}}\n")
    done = opentrade("--config", str(config), "run", "--headless", "--duration", "1")
    assert done.returncode == 1
    db = blocker / "db"
    assert f"opentrade: cannot open database {db / 'opentrade.sqlite'}: the directory {db} does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_read_only_home_for_run(tmp_path: Path) -> None:
    """As root, file permissions only bind once the capability to override them is dropped."""
    home = tmp_path / "read-only-home"
    home.mkdir()
    os.chmod(home, 0o500)
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
    if drop and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be made")
    done = subprocess.run([*drop, sys.executable, "-m", "cli.main", "--home", str(home), "run", "--headless", "--duration", "1"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == f"opentrade: {home / 'engine.lock'}: Permission denied"


@pytest.fixture
def truncated_home(tmp_path: Path) -> Path:
    """A home whose database lost its second half (a copy cut short, a disk that filled)."""
    home = tmp_path / "truncated"
    home.mkdir()
    path = home / "opentrade.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE filler (x TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(200)])
    conn.close()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return home


def test_audit_verify_on_a_truncated_database(truncated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["--home", str(truncated_home), "audit", "verify"], capsys, code=1)
    assert err.startswith(f"opentrade: cannot open database {truncated_home / 'opentrade.sqlite'}: ")
    assert err.count("\n") == 1


def test_run_on_a_truncated_database(truncated_home: Path) -> None:
    done = opentrade("--home", str(truncated_home), "run", "--headless", "--duration", "1")
    assert done.returncode == 1
    assert f"opentrade: the database {truncated_home / 'opentrade.sqlite'} is damaged: " in done.stderr
    assert "OpenTrade will not trade on it" in done.stderr
    assert "Traceback" not in done.stderr


# ----- candles and backtest options -------------------------------------------------------------


def test_agents_analyze_on_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["agents", "analyze", "--symbol", "BTC/USDT", "--data", str(tmp_path)], capsys)
    assert f"{tmp_path}: is a directory; give a candles file (CSV or ccxt OHLCV JSON)" in err


@pytest.mark.parametrize(
    ("name", "content", "where", "shown"),
    [
        ("c.csv", "timestamp,open,high,low,close,volume\n1704067200000,1,1,1,1,1\n1e30,1,1,1,1,1\n", "line 3", "'1e30'"),
        ("c.json", "[[1704067200000,1,1,1,1,1],[1e30,1,1,1,1,1]]", "row 2", "1e+30"),
        ("c.csv", "timestamp,open,high,low,close,volume\n-5,1,1,1,1,1\n", "line 2", "'-5'"),
    ],
)
def test_a_candle_timestamp_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, where: str, shown: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    err = refused(["backtest", "--strategy", "sma_cross", "--data", str(path)], capsys)
    assert f"{path}: {where}: timestamp {shown} is not a time: expected milliseconds since 1970-01-01 UTC" in err


@pytest.mark.parametrize(
    ("command", "option", "says"),
    [
        ("backtest", ["--cash", "inf"], "cash must be greater than 0 and at most 1,000,000,000,000,000 (got inf)"),
        ("backtest", ["--cash", "nan"], "cash must be greater than 0 and at most 1,000,000,000,000,000 (got nan)"),
        ("optimize", ["--cash", "inf"], "cash must be greater than 0 and at most 1,000,000,000,000,000 (got inf)"),
        ("backtest", ["--spread-bps", "-50"], "spread must be between 0 and 10000 basis points (got -50.0)"),
        ("backtest", ["--depth", "-1"], "depth must be 0 (unlimited) or a positive amount per level (got -1.0)"),
        ("backtest", ["--symbol", "garbage!!"], "--symbol: 'garbage!!' is not a unified symbol like BTC/USDT or BTC/USDT:USDT"),
        ("optimize", ["--symbol", "BTC/USDT/"], "--symbol: 'BTC/USDT/' is not a unified symbol like BTC/USDT or BTC/USDT:USDT"),
    ],
)
def test_backtest_options_out_of_range(capsys: pytest.CaptureFixture[str], command: str, option: list[str], says: str) -> None:
    err = refused([command, "--strategy", "sma_cross", "--data", str(CANDLES), *option], capsys)
    assert err == f"{command}: {says}\n"


@pytest.mark.parametrize("command", [["run", "--headless", "--duration", "1"], ["gateway", "--port", "0", "--duration", "1"]])
def test_headless_live_needs_credentials_then_its_name_typed(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headless forms refuse a live venue before anything connects, as the app does: first
    without credentials (naming the variables), then until ``--confirm-live`` names it."""
    config = tmp_path / "config.yaml"
    config.write_text("venues:\n  paper: {}\n  my-binance:\n    exchange: binance\n    mode: live\n")
    base = ["--config", str(config), "--home", str(tmp_path / "home"), *command]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "venue 'my-binance' trades live but has no API key and secret" in err and "OPENTRADE_MY_BINANCE_API_KEY" in err
    monkeypatch.setenv("OPENTRADE_MY_BINANCE_API_KEY", "k")
    monkeypatch.setenv("OPENTRADE_MY_BINANCE_SECRET", "s")
    assert main(base) == 2
    assert capsys.readouterr().err.strip() == (
        "venue my-binance trades real money: start with --confirm-live my-binance to confirm, as the app asks its name to be typed")
    assert not (tmp_path / "home" / "opentrade.db").exists(), "nothing was opened"
