"""The example plugin package, installed with pip, used as a trader would: listed, backtested,
tuned, run on the paper venue by the real command, and shown on the Strategies screen."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Select

from cli.main import main
from core.config import AppConfig, PaperVenueConfig, StrategyConfig
from core.strategies.registry import strategy_class, strategy_kinds
from tests.conftest import DATA
from tests.plugins.conftest import opentrade
from tests.tui.conftest import settle, wait_ready
from tests.tui.test_backtest_screen import open_screen, wait_for_backtest

CANDLES = str(DATA / "binance_BTC_USDT-1h-5000.csv")


def test_names_come_from_the_metadata_and_the_module_is_imported_when_first_used(example_install: Path) -> None:
    """Start-up reads names only: the plugin's module is imported by the first backtest or
    strategy that asks for it."""
    script = (
        "import sys\n"
        "from core.plugins import registry\n"
        "print('example_momentum' in registry().names('strategy'), 'opentrade_example_plugin.momentum' in sys.modules)\n"
        "from core.strategies.registry import strategy_class\n"
        "strategy_class('example_momentum')\n"
        "print('opentrade_example_plugin.momentum' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(example_install), "PATH": "/usr/bin:/bin"}, cwd=Path(__file__).parents[2])
    assert done.stdout.split() == ["True", "False", "True"], done.stderr


def test_plugin_list_shows_the_installed_package(example_install: Path, isolated_home: Path) -> None:
    done = opentrade("plugin", "list", "--json", site=example_install)
    assert done.returncode == 0, done.stderr
    rows = {(row["kind"], row["name"]): row for row in json.loads(done.stdout)["plugins"]}
    assert rows["strategy", "example_momentum"] == {
        "name": "example_momentum", "kind": "strategy", "package": "opentrade-example-plugin", "version": "0.1.0",
        "builtin": False, "enabled": True, "status": "ok", "error": None,
        "target": "opentrade_example_plugin.momentum:Momentum",
    }
    assert rows["strategy", "grid"]["builtin"] and rows["venue", "paper"]["status"] == "ok"
    assert {kind for kind, _ in rows} == {"venue", "strategy", "agent", "data_provider"}


def test_backtest_of_the_plugin_strategy_by_the_real_command(example_install: Path, isolated_home: Path) -> None:
    done = opentrade("backtest", "--strategy", "example_momentum", "--data", CANDLES, "--param", "lookback=24", "--json",
                     site=example_install)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine"] == "event" and result["params"] == {"lookback": 24, "invest": 0.5}
    assert result["trades"] > 50 and result["final_equity"] != 10_000


@pytest.mark.usefixtures("example_plugin")
def test_the_plugin_gets_the_same_parameter_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--strategy", "example_momentum", "--data", CANDLES, "--param", "lookback=0"]) == 2
    assert "strategy 'example_momentum': parameter 'lookback' = 0 is out of bounds: must be between 1 and 500" in capsys.readouterr().err
    assert main(["backtest", "--strategy", "example_momentum", "--data", CANDLES, "--param", "window=3"]) == 2
    assert "has no parameter 'window' (it has: lookback, invest)" in capsys.readouterr().err
    assert "example_momentum" in strategy_kinds()
    path = tmp_path / "bad.yaml"
    path.write_text("strategies:\n  mom:\n    kind: example_momentum\n    lookback: 9000\n")
    assert main(["config", "validate", str(path)]) == 2
    assert "parameter 'lookback' = 9000 is out of bounds: must be between 1 and 500 (configured as 'mom')" in capsys.readouterr().err


@pytest.mark.usefixtures("example_plugin")
def test_the_plugin_strategy_is_optimised_and_evolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["optimize", "--strategy", "example_momentum", "--data", CANDLES, "--method", "grid", "--grid-points", "3",
                 "--only", "lookback", "--json"])
    best = json.loads(capsys.readouterr().out)
    assert code == 0 and best["best"]["params"]["lookback"] in (1, 250, 500)
    config = tmp_path / "config.yaml"
    config.write_text("strategies:\n  mom:\n    kind: example_momentum\n    lookback: 12\n")
    code = main(["--config", str(config), "evolve", "--strategy", "mom", "--data", CANDLES, "--population", "4",
                 "--generations", "2", "--json"])
    review = json.loads(capsys.readouterr().out)
    assert code == 0 and review["current"]["params"] == {"lookback": 12, "invest": 0.5}
    assert strategy_class("example_momentum").validate_params(review["params"])


def test_a_headless_paper_run_trades_the_plugin_strategy(example_install: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "config.yaml"
    config.write_text(
        "venues:\n  paper:\n    speed: 600\n    markets: [BTC/USDT]\n"
        "agents:\n  enabled: false\n"
        "strategy_review:\n  enabled: false\n"
        "strategies:\n  mom:\n    kind: example_momentum\n    enabled: true\n    symbols: [BTC/USDT]\n"
        "    timeframe: 1m\n    lookback: 2\n    allocation_pct: 0.01\n"
    )
    done = opentrade("--config", str(config), "--home", str(home), "run", "--headless", "--duration", "3",
                     "--status-every", "1", "--seed", "4", site=example_install)
    assert done.returncode == 0, done.stderr
    assert "strategy mom running on paper BTC/USDT" in done.stderr
    with sqlite3.connect(home / "opentrade.sqlite") as db:
        filled = db.execute("SELECT count(*) FROM orders WHERE strategy_id = 'mom' AND status = 'filled'").fetchone()[0]
    assert filled >= 2


@pytest.mark.usefixtures("example_plugin")
async def test_the_strategies_and_backtest_screens_offer_the_plugin_strategy(make_app: Any) -> None:
    config = AppConfig(
        venues={"paper": PaperVenueConfig(markets=[{"symbol": "BTC/USDT"}])},  # type: ignore[list-item]
        strategies={"mom": StrategyConfig(kind="example_momentum", enabled=True, lookback=5)},  # type: ignore[call-arg]
    )
    config.agents.enabled = False
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#strategies", DataTable)
        row = [str(cell) for cell in table.get_row("mom")]
        assert "example_momentum" in row and "running" in row
        [info] = app.engine.strategies.list_strategies()
        assert info.kind == "example_momentum" and info.params == {"lookback": 5, "invest": 0.5}

        screen = await open_screen(pilot)
        screen.query_one("#bt-strategy", Select).value = "example_momentum"
        await settle(pilot)
        screen.query_one("#bt-param-lookback", Input).value = "24"
        await pilot.press("ctrl+r")
        await wait_for_backtest(pilot)
        assert screen.result is not None and screen.result.params == {"lookback": 24, "invest": 0.5}
        assert screen.result.metrics.trades > 10
