"""Exporting backtest results: JSON with everything, or CSV (trades, and the equity curve)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from core.backtest.metrics import TradeRecord
from core.backtest.result import BacktestResult

TRADE_COLUMNS = (
    "symbol", "side", "size", "entry_bar", "exit_bar", "entry_ts", "exit_ts", "entry_price", "exit_price",
    "pnl", "return_pct", "fees", "strategy_id",
)


def to_json(result: BacktestResult, *, curve: bool = True) -> dict[str, Any]:
    """The summary, every trade and (optionally) the equity curve as [ts, equity] pairs."""
    data: dict[str, Any] = {**result.summary(), "trade_list": [t.to_dict() for t in result.trades]}
    if curve:
        data["equity_curve"] = [[int(t), float(e)] for t, e in zip(result.ts, result.equity, strict=True)]
    return data


def write_json(result: BacktestResult, path: Path) -> None:
    path.write_text(json.dumps(to_json(result), indent=1) + "\n", encoding="utf-8")


def write_trades_csv(trades: list[TradeRecord], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for trade in trades:
            writer.writerow(trade.to_dict())


def write_equity_csv(result: BacktestResult, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "equity"])
        writer.writerows((int(t), repr(float(e))) for t, e in zip(result.ts, result.equity, strict=True))


def export(result: BacktestResult, path: Path) -> list[Path]:
    """By extension: ``.json`` writes one file; ``.csv`` writes the trades there and the equity
    curve beside it (``<name>-equity.csv``). Returns the files written."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        write_json(result, path)
        return [path]
    if suffix == ".csv":
        equity = path.with_name(f"{path.stem}-equity.csv")
        write_trades_csv(result.trades, path)
        write_equity_csv(result, equity)
        return [path, equity]
    raise ValueError(f"cannot export to '{path.name}': use a .json or .csv file name")
