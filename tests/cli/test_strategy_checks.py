"""`config validate` warns about strategies that would sell short on spot markets; `doctor`
finds working orders no strategy manages as it should, and says what to do."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli.main import main
from core.models import Order, OrderRequest, OrderStatus, OrderType, Side
from core.storage.database import Database

SPOT_SHORTS = """
strategies:
  ai_trend_following: {enabled: true, symbols: [BTC/USDT], allow_short: true}
  long_only: {kind: mean_reversion, symbols: [ETH/USDT], allow_short: false}
  perp_cross: {kind: sma_cross, symbols: ["BTC/USDT:USDT"]}
  margin_cross: {kind: sma_cross, venue: bn, symbols: [BTC/USDT]}
  spot_cross: {kind: sma_cross, venue: bn_spot, symbols: [ETH/USDT]}
venues:
  paper: {}
  bn: {exchange: binance, margin: true}
  bn_spot: {exchange: binance}
"""


def test_validate_warns_about_shorts_on_spot_markets_without_margin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SPOT_SHORTS)
    assert main(["config", "validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: valid\n"
    assert err.splitlines() == [
        f"{path}: warning: strategy 'ai_trend_following': allow_short is true, but BTC/USDT on venue 'paper' is a "
        "spot market without margin: it goes flat where it would go short (set allow_short: false to trade long "
        "only, or set margin: true on a ccxt venue whose account borrows)",
        f"{path}: warning: strategy 'spot_cross': sma_cross sells short, but ETH/USDT on venue 'bn_spot' is a spot "
        "market without margin: it goes flat where it would go short (trade a perpetual (ETH/USDT:USDT) to short, "
        "or set margin: true on a ccxt venue whose account borrows)",
    ]



GRID_AND_FRIENDS = """
strategies:
  grid: {kind: grid, enabled: true, symbols: [BTC/USDT], lower: 90, upper: 110, levels: 5, order_size: 1}
  idle: {kind: sma_cross, enabled: false}
"""


async def working(home: Path, orders: list[tuple[str, Side, str]]) -> None:
    """Open orders in the database, as an engine left them: (strategy id, side, price)."""
    async with await Database.open(home / "opentrade.sqlite") as db:
        for k, (strategy_id, side, price) in enumerate(orders):
            order = Order.from_request(OrderRequest(
                venue="paper", symbol="BTC/USDT", side=side, type=OrderType.LIMIT, size=Decimal(1), price=Decimal(price),
                strategy_id=strategy_id, client_order_id=f"o{k}",
            ), 0)
            order.transition(OrderStatus.OPEN, 1)
            await db.record_order(order, "created", new=True)


def doctor(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], orders: list[tuple[str, Side, str]]) -> tuple[int, list[dict]]:
    asyncio.run(working(home, orders))
    path = tmp_path / "c.yaml"
    path.write_text(GRID_AND_FRIENDS)
    code = main(["--config", str(path), "doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    return code, [c for c in report["checks"] if c["name"].startswith("strategy orders")]


def test_doctor_finds_duplicated_unmanaged_and_off_ladder_orders(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(isolated_home, tmp_path, capsys, [
        ("grid", Side.BUY, "90"), ("grid", Side.BUY, "95"), ("grid", Side.BUY, "95"), ("grid", Side.SELL, "97"),
        ("ghost", Side.BUY, "50"), ("idle", Side.BUY, "100"),
    ])
    assert code == 1
    assert [(c["name"], c["ok"], c["detail"]) for c in checks] == [
        ("strategy orders of ghost", False,
         "1 open order of strategy 'ghost', which is not configured: nothing answers their fills"),
        ("strategy orders of grid", False, "several open orders of 'grid' at one price: 2 buys of BTC/USDT at 95"),
        ("strategy orders of grid", False, "the open orders of grid 'grid' are not one ladder: 97 is no level of it"),
        ("strategy orders of idle", False,
         "1 open order of strategy 'idle', which is not enabled: nothing answers their fills"),
    ]
    assert all(c["fix"] for c in checks)
    assert "keeps one order per rung" in checks[1]["fix"] and "enable it" in checks[3]["fix"]


def test_doctor_passes_a_grid_that_is_one_ladder(isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = doctor(isolated_home, tmp_path, capsys, [
        ("grid", Side.BUY, "90"), ("grid", Side.BUY, "95"), ("grid", Side.SELL, "105"),
    ])
    assert code == 0
    assert [(c["name"], c["ok"]) for c in checks] == [("strategy orders", True)]
