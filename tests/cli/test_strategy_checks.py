"""`config validate` warns about strategies that would sell short on spot markets; `doctor`
finds working orders no strategy manages as it should, and says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main

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
