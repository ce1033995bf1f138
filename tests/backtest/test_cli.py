"""`opentrade backtest|optimize|evolve|strategy`: output, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import DATA

CANDLES = str(DATA / "binance_BTC_USDT-1h-5000.csv")
CONFIG = """\
# a trader's notes
strategies:
  btc_sma:   # the reference strategy
    kind: sma_cross
    enabled: false   # not yet
    fast: 10
    slow: 30
  revert:
    kind: mean_reversion
    period: 25
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_json_is_one_object_with_the_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "backtest", "--strategy", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "1h",
                         "--data", CANDLES, "--param", "fast=10", "--param", "slow=30", "--fee", "0.001", "--cash",
                         "100000", "--json")
    assert code == 0
    result = json.loads(out)
    assert {"trades", "final_equity", "total_return", "max_drawdown", "sharpe", "elapsed_s"} <= set(result)
    assert result["trades"] == 196 and result["params"]["fast"] == 10 and result["engine"] == "fast"
    first, last = (line.split(",") for line in Path(CANDLES).read_text().splitlines()[1::4999])
    assert result["buy_and_hold_return"] == pytest.approx(float(last[4]) / float(first[1]) * 0.999**2 - 1)


def test_a_second_backtest_on_a_file_reads_its_parsed_copy_in_the_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--home", str(tmp_path / "home"), "backtest", "--strategy", "sma_cross", "--data", CANDLES, "--json"]
    first = run(capsys, *argv)
    (copy,) = (tmp_path / "home" / "cache" / "candles").iterdir()
    stamp = copy.stat().st_mtime_ns
    second = run(capsys, *argv)
    assert first[0] == second[0] == 0 and copy.stat().st_mtime_ns == stamp
    drop_elapsed = [{k: v for k, v in json.loads(out).items() if k != "elapsed_s"} for _, out, _ in (first, second)]
    assert drop_elapsed[0] == drop_elapsed[1]


def test_the_shipped_sample_backtests_with_buy_and_hold_beside(capsys: pytest.CaptureFixture[str]) -> None:
    from core.backtest.data import SAMPLE_CANDLES

    code, out, _ = run(capsys, "backtest", "--strategy", "sma_cross", "--data", str(SAMPLE_CANDLES))
    assert code == 0 and "(fast engine, 3,000 candles)" in out
    assert "buy and hold %" in out and "-49.96" in out


def test_backtest_table_event_engine_and_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    export = tmp_path / "run.json"
    code, out, _ = run(capsys, "backtest", "--strategy", "mean_reversion", "--symbol", "BTC/USDT", "--data", CANDLES,
                       "--engine", "event", "--latency-ms", "1000", "--export", str(export))
    assert code == 0 and "mean_reversion on BTC/USDT 1h (event engine, 5,000 candles)" in out and "Sharpe" in out
    saved = json.loads(export.read_text())
    assert len(saved["trade_list"]) == saved["trades"] and len(saved["equity_curve"]) == 5000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "sma_cross", "--param", "fast=1"], "parameter 'fast' = 1 is out of bounds: must be between 2 and 500"),
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--strategy", "sma_cross", "--param", "fast"], "--param expects NAME=VALUE, got 'fast'"),
        (["--strategy", "sma_cross", "--fee", "0.5"], "fee must be a fraction between 0 and 0.1"),
        (["--strategy", "grid", "--engine", "fast"], "strategy 'grid' has no vectorised path"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "backtest", "--symbol", "BTC/USDT", "--data", CANDLES, *argv)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_bad_data_names_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = Path(CANDLES).read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1], lines[3], lines[2], *lines[4:20]]) + "\n")
    code, _, err = run(capsys, "backtest", "--strategy", "sma_cross", "--symbol", "BTC/USDT", "--data", str(bad))
    assert code == 2 and "bad.csv: line 4: timestamps are not sorted" in err


def test_optimize_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "optimize", "--strategy", "sma_cross", "--symbol", "BTC/USDT", "--data", CANDLES,
                       "--population", "6", "--generations", "2", "--folds", "2", "--seed", "1", "--json")
    result = json.loads(out)
    assert code == 0 and result["method"] == "genetic" and len(result["folds"]) == 2 and result["evaluations"] > 0


def test_strategy_management_and_evolve(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = run(capsys, "--config", str(config), "strategy", "list", "--json")
    listed = json.loads(out)
    assert [s["id"] for s in listed["strategies"]] == ["btc_sma", "revert"] and "grid" in listed["kinds"]

    assert run(capsys, "--config", str(config), "strategy", "enable", "btc_sma")[0] == 0
    assert run(capsys, "--config", str(config), "strategy", "enable", "revert")[0] == 0
    text = config.read_text()
    assert "    enabled: true   # not yet\n" in text and "  revert:\n    enabled: true\n    kind: mean_reversion" in text
    assert text.startswith("# a trader's notes\n")

    code, _, err = run(capsys, "--config", str(config), "strategy", "set", "btc_sma", "fast=40")
    assert code == 2 and "fast (40) must be smaller than slow (30)" in err
    code, out, _ = run(capsys, "--config", str(config), "strategy", "set", "btc_sma", "fast=12")
    assert code == 0 and "version 1 saved" in out

    code, out, _ = run(capsys, "--config", str(config), "evolve", "--strategy", "btc_sma", "--symbol", "BTC/USDT",
                       "--data", CANDLES, "--population", "6", "--generations", "2", "--json")
    review = json.loads(out)
    assert code == 0 and review["current"]["params"]["fast"] == 12  # started from the stored version
    code, out, _ = run(capsys, "--config", str(config), "strategy", "show", "btc_sma", "--json")
    shown = json.loads(out)
    assert len(shown["versions"]) == (2 if review["adopted"] else 1)
    assert shown["parameters"][0]["value"] == review["params"]["fast"]


def test_evolve_needs_a_configured_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evolve", "--strategy", "sma_cross", "--data", CANDLES)
    assert code == 2 and "'sma_cross' is not a configured strategy" in err


def test_backtest_on_recorded_trades(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "backtest", "--strategy", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "1s",
                         "--data", str(DATA / "binance_BTC_USDT-trades-20210108.csv"), "--param", "fast=2",
                         "--param", "slow=5", "--json")
    result = json.loads(out)
    assert code == 0, err
    assert result["engine"] == "event" and result["bars"] == 47 and result["trades"] > 0


def test_a_failing_strategy_stops_the_backtest_with_its_error() -> None:
    """In a real process: the core's logged traceback must not reach the terminal."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "backtest", "--strategy", "basis_arbitrage", "--symbol", "BTC/USDT",
         "--data", CANDLES], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2],
    )
    code, out, err = done.returncode, done.stdout, done.stderr
    assert code == 2 and out == ""
    assert "strategy 'basis_arbitrage' failed at 2021-09-29 09:00:00 UTC" in err
    assert "basis_arbitrage trades exactly two symbols, got 1: BTC/USDT" in err and "Traceback" not in err


def test_signal_driven_backtest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "backtest", "--strategy", "ai_trend_following", "--symbol", "BTC/USDT", "--data", CANDLES)
    assert code == 2 and "trades on agent signals: pass --signals FILE" in err
    signals = tmp_path / "signals.json"
    signals.write_text(json.dumps([
        {"instrument_id": "BTC/USDT", "direction": "buy", "strength": 0.9, "confidence": 0.95, "generated_time": 1633000000000},
        {"instrument_id": "BTC/USDT", "direction": "sell", "strength": 0.9, "confidence": 0.5, "generated_time": 1634000000000},
    ]))
    code, out, err = run(capsys, "backtest", "--strategy", "ai_trend_following", "--symbol", "BTC/USDT", "--data", CANDLES,
                         "--signals", str(signals), "--json")
    assert code == 0, err
    assert json.loads(out)["trades"] == 1  # the confident buy, closed at its stop or target; the unsure sell ignored
    signals.write_text(json.dumps([{"instrument_id": "BTC/USDT", "direction": "up"}]))
    code, _, err = run(capsys, "backtest", "--strategy", "ai_trend_following", "--symbol", "BTC/USDT", "--data", CANDLES,
                       "--signals", str(signals))
    assert code == 2 and "signals.json: signal 1: direction: Input should be 'buy', 'sell' or 'hold'" in err


def test_optimize_can_save_the_winner_as_a_version(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, "--config", str(config), "optimize", "--strategy", "btc_sma", "--symbol", "BTC/USDT",
                         "--data", CANDLES, "--population", "6", "--generations", "2", "--save-version", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["saved_version"] == 1
    code, out, _ = run(capsys, "--config", str(config), "strategy", "show", "btc_sma", "--json")
    (version,) = json.loads(out)["versions"]
    assert version["params"] == result["best"]["params"] and '"optimize": "genetic"' in version["note"]
    code, _, err = run(capsys, "optimize", "--strategy", "sma_cross", "--data", CANDLES, "--save-version")
    assert code == 2 and "'sma_cross' is not a configured strategy" in err
