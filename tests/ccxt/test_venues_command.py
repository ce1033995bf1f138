"""`opentrade venues`: paper first, then every ccxt exchange with its features."""

from __future__ import annotations

import json

from cli.main import main


def test_json_lists_paper_and_every_ccxt_exchange_with_features(capsys) -> None:
    assert main(["venues", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in rows}
    assert rows[0]["id"] == "paper" and len(rows) > 100
    binance = by_id["binance"]
    assert binance["websocket"] and binance["perpetuals"] and binance["testnet"]
    assert binance["stop_orders"] and binance["trailing_orders"] and binance["post_only"]
    assert not by_id["kraken"]["perpetuals"]
    assert set(binance) == {"id", "name", "websocket", "perpetuals", "stop_orders", "trailing_orders", "post_only", "testnet"}


def test_table_has_one_line_per_venue(capsys) -> None:
    assert main(["venues"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, paper = lines[0].split(), lines[1].split()
    assert header[:7] == ["venue", "ws", "perp", "stop", "trail", "post", "testnet"]
    assert paper[0] == "paper"
    assert any(line.startswith("okx ") and " yes " in line for line in lines)
