"""`opentrade agents analyze` in-process: the JSON shape, the table, and bad input (exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import DATA

CSV = DATA / "binance_BTC_USDT-1h-5000.csv"
AGENTS = ["market", "forecast", "strategy", "risk", "onchain", "sentiment", "macro"]


def test_json_has_the_signal_every_opinion_and_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "analyze", "--symbol", "BTC/USDT", "--data", str(CSV), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    signal = payload["signal"]
    assert set(signal) == {"signal_id", "instrument_id", "direction", "strength", "confidence", "target_price",
                           "stop_loss", "take_profit", "generated_time", "source", "size_fraction"}
    assert signal["instrument_id"] == "BTC/USDT" and signal["source"] == "coordinator"
    assert signal["direction"] in ("buy", "sell", "hold")
    assert [o["agent"] for o in payload["opinions"]] == AGENTS
    for opinion in payload["opinions"]:
        assert {"agent", "direction", "strength", "confidence", "rationale"} <= set(opinion)
        assert 0 <= opinion["strength"] <= 1 and 0 <= opinion["confidence"] <= 1
    by_agent = {o["agent"]: o for o in payload["opinions"]}
    assert by_agent["macro"]["rationale"] == "no data" and by_agent["macro"]["has_data"] is False
    assert by_agent["market"]["has_data"] and by_agent["forecast"]["inputs"]["report"]["n_test"] > 0
    assert payload["risk"]["action"] in ("approve", "scale", "veto", "none")
    last_ts = int(CSV.read_text().strip().splitlines()[-1].split(",")[0])
    assert payload["as_of_ms"] == last_ts + 3_600_000
    assert payload["timeframe"] == "1h"


def test_table_output_names_every_agent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "analyze", "--symbol", "BTC/USDT", "--data", str(CSV)]) == 0
    out = capsys.readouterr().out
    for agent in AGENTS:
        assert agent in out
    assert "signal:" in out and "risk:" in out and "as of 2022-04-25" in out


def test_bad_csv_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    lines = CSV.read_text().splitlines()[:200]
    lines[57] = lines[57].replace(lines[57].split(",")[4], "oops", 1)
    bad.write_text("\n".join(lines) + "\n")
    assert main(["agents", "analyze", "--symbol", "BTC/USDT", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 58" in err and "'oops'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--symbol", "BTC/USDT", "--data", "missing.csv"], "missing.csv: no such file"),
        (["--symbol", "BTCUSDT", "--data", str(CSV)], "not a unified symbol"),
        (["--symbol", "BTC/USDT", "--data", str(CSV), "--equity", "-5"], "--equity: must be greater than 0"),
        (["--symbol", "BTC/USDT", "--data", str(CSV), "--timeframe", "7x"], "--timeframe:"),
        (["--symbol", "BTC/USDT"], "pass --data PATH"),
        (["--symbol", "DOGE/USDT"], "unknown symbol DOGE/USDT on venue 'paper'"),
    ],
)
def test_bad_input_is_a_clear_message_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agents", "analyze", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_too_short_a_file_still_decides_with_no_data_opinions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.csv"
    short.write_text("\n".join(CSV.read_text().splitlines()[:31]) + "\n")
    assert main(["agents", "analyze", "--symbol", "BTC/USDT", "--data", str(short), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["signal"]["direction"] == "hold"
    assert all(not o["has_data"] for o in payload["opinions"] if o["agent"] != "risk")


def test_without_data_it_reads_stored_candles(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from core.backtest.data import load_bars
    from core.storage.database import Database

    bars = load_bars(CSV, allow_gaps=True)
    candles = [bars.candle(i) for i in range(len(bars) - 400, len(bars))]

    async def store() -> None:
        db = await Database.open(isolated_home / "opentrade.sqlite")
        await db.save_candles("paper", "ETH/USDT", "1h", candles)
        await db.close()

    asyncio.run(store())
    assert main(["agents", "analyze", "--symbol", "ETH/USDT", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["symbol"] == "ETH/USDT" and payload["as_of_ms"] == candles[-1].ts + 3_600_000
    assert main(["agents", "analyze", "--symbol", "SOL/USDT"]) == 2
    assert "no stored 1h candles for SOL/USDT on 'paper'" in capsys.readouterr().err


def test_ccxt_ohlcv_json_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[int(r[0]), *map(float, r[1:])] for r in (line.split(",") for line in CSV.read_text().splitlines()[1:601])]
    path = tmp_path / "btc.json"
    path.write_text(json.dumps(rows))
    assert main(["agents", "analyze", "--symbol", "btc/usdt", "--data", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["symbol"] == "BTC/USDT" and payload["as_of_ms"] == rows[-1][0] + 3_600_000


def test_forecast_command_trains_reports_and_predicts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "forecast", "--symbol", "BTC/USDT", "--data", str(CSV), "--horizon", "4", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == "ridge" and payload["report"]["horizon"] == 4
    assert {"directional_accuracy", "baseline_accuracy", "interval_coverage", "skill"} <= set(payload["report"])
    assert [p["ts"] - payload["path"][0]["ts"] for p in payload["path"]] == [0, 3_600_000, 7_200_000, 10_800_000]
    assert all(p["lower"] < p["close"] < p["upper"] for p in payload["path"])
    assert main(["agents", "forecast", "--symbol", "BTC/USDT", "--data", str(CSV)]) == 0
    out = capsys.readouterr().out
    assert "held-out tail" in out and "always guessing the training majority" in out


def test_forecast_command_refuses_too_little_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.csv"
    short.write_text("\n".join(CSV.read_text().splitlines()[:121]) + "\n")
    assert main(["agents", "forecast", "--symbol", "BTC/USDT", "--data", str(short)]) == 2
    assert "120 candles are too few to train and test the model" in capsys.readouterr().err
    assert main(["agents", "forecast", "--symbol", "BTC/USDT", "--data", str(CSV), "--horizon", "0"]) == 2
    assert "--horizon: must be between 1 and 500" in capsys.readouterr().err
