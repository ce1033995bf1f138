"""Plugins from other packages: venues, agents and data providers that join, broken ones that
are reported once and skipped, names a package cannot take, and plugins turned off per home."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.team import build_analysts, build_coordinator
from cli.main import main
from core.clock import SimClock
from core.config import AppConfig, ConfigError, PaperVenueConfig, StrategyConfig, parse_config
from core.models import AgentOpinion, Direction
from core.plugins import PluginError, registry
from core.strategies.grid import Grid
from core.strategies.registry import BrokenStrategy, UnknownStrategy, strategy_class, strategy_classes
from runtime.wiring import build_engine
from tests.plugins.conftest import on_path, opentrade, write_package
from tests.tui.conftest import wait_ready

STRATEGY_MODULES = {
    "broken_import_mod": "import no_such_module_for_opentrade_tests\n",
    "wrong_type_mod": "VALUE = 42\n",
    "bad_defaults_mod": (
        "from typing import ClassVar\n"
        "from core.strategies.base import Param, Strategy\n\n"
        "class Bad(Strategy):\n"
        "    name: ClassVar[str] = 'bad_defaults'\n"
        "    parameters: ClassVar[tuple[Param, ...]] = (Param('n', int, 0, low=1, high=5),)\n"
    ),
    "misnamed_mod": (
        "from typing import ClassVar\n"
        "from core.strategies.base import Strategy\n\n"
        "class Misnamed(Strategy):\n"
        "    name: ClassVar[str] = 'something_else'\n"
    ),
}
TEAM_MODULES = {
    "listener_mod": (
        "from agents.base import Agent\n"
        "from agents.providers import ProviderData\n\n"
        "class Listener(Agent):\n"
        "    name = 'listener'\n"
        "    async def analyze(self, context):\n"
        "        return self.no_data('nothing heard')\n\n"
        "def listener(config):\n    return Listener()\n\n"
        "def failing(config):\n    raise RuntimeError('no microphone')\n\n"
        "def impostor(config):\n    return Listener()\n\n"
        "class Constant:\n"
        "    def __init__(self, name, score):\n        self.name, self.score = name, score\n"
        "    async def fetch(self, symbol):\n        return ProviderData(score=self.score, summary='constant', source=self.name)\n\n"
        "def constant(source, name):\n    return Constant(name, float(source.options['score']))\n"
    ),
    "sim_venue_mod": (
        "from core.config import PaperVenueConfig\n"
        "from exchanges.paper.venue import PaperVenue\n\n"
        "def build(spec):\n"
        "    settings = PaperVenueConfig(markets=spec.settings.markets, seed=int(spec.settings.options['seed']))\n"
        "    return PaperVenue(spec.name, settings, spec.clock, spec.home / f'sim-{spec.name}.sqlite')\n\n"
        "def explode(spec):\n    raise RuntimeError('no such account')\n"
    ),
}


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Path]:
    """Strategies that cannot be used, for every reason, and an agent that is no factory."""
    root = tmp_path / "broken-site"
    write_package(root, "broken-strategies", {
        "opentrade.strategies": {
            "broken_import": "broken_import_mod:Thing", "not_a_class": "wrong_type_mod:VALUE",
            "bad_defaults": "bad_defaults_mod:Bad", "misnamed": "misnamed_mod:Misnamed", "grid": "wrong_type_mod:VALUE",
        },
        "opentrade.agents": {"shouter": "wrong_type_mod:VALUE"},
        "opentrade.venues": {"lostvenue": "broken_import_mod:build"},
    }, STRATEGY_MODULES)
    write_package(root, "twin-a", {"opentrade.strategies": {"twin": "wrong_type_mod:VALUE"}}, {})
    write_package(root, "twin-b", {"opentrade.strategies": {"twin": "wrong_type_mod:VALUE"}}, {}, version="2.0")
    with on_path(root):
        yield root


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Path]:
    """A package adding agents, a data provider and venues, some of which fail."""
    root = tmp_path / "team-site"
    write_package(root, "listening-post", {
        "opentrade.agents": {"listener": "listener_mod:listener", "failing": "listener_mod:failing",
                             "impostor": "listener_mod:impostor"},
        "opentrade.data_providers": {"constant": "listener_mod:constant"},
        "opentrade.venues": {"simvenue": "sim_venue_mod:build", "exploding": "sim_venue_mod:explode"},
    }, TEAM_MODULES)
    with on_path(root):
        yield root


def plugin_rows(capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, str, str], dict[str, object]]:
    assert main(["plugin", "list", "--json"]) == 0
    return {(r["kind"], r["name"], r["package"]): r for r in json.loads(capsys.readouterr().out)["plugins"]}


@pytest.mark.usefixtures("broken")
def test_broken_plugins_are_listed_with_their_error(capsys: pytest.CaptureFixture[str]) -> None:
    rows = plugin_rows(capsys)
    errors = {(kind, name): row["error"] for (kind, name, _), row in rows.items() if row["status"] == "broken"}
    assert errors == {
        ("strategy", "broken_import"): "loading broken_import_mod:Thing failed: ModuleNotFoundError: "
                                       "No module named 'no_such_module_for_opentrade_tests'",
        ("strategy", "not_a_class"): "it is int 42, not a subclass of core.strategies.base.Strategy",
        ("strategy", "bad_defaults"): "its declared defaults fail its own checks: strategy 'bad_defaults': "
                                      "parameter 'n' = 0 is out of bounds: must be between 1 and 5",
        ("strategy", "misnamed"): "its class Misnamed is named 'something_else', but it is registered as 'misnamed'",
        ("strategy", "grid"): "the name 'grid' belongs to OpenTrade's built-in strategy; rename it in broken-strategies",
        ("strategy", "twin"): "the name 'twin' is registered by twin-a 1.0 and twin-b 2.0: uninstall one of them",
        ("agent", "shouter"): "it is int 42, not a factory (a callable)",
        ("venue", "lostvenue"): "loading broken_import_mod:build failed: ModuleNotFoundError: "
                                "No module named 'no_such_module_for_opentrade_tests'",
    }
    assert rows["strategy", "twin", "twin-b"]["status"] == "broken", "neither of two packages takes the name"
    assert rows["strategy", "grid", "opentrade-terminal"]["status"] == "ok"
    assert strategy_class("grid") is Grid, "a package cannot replace a built-in"
    assert main(["doctor", "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["plugin strategy misnamed"] == {
        "name": "plugin strategy misnamed", "ok": False,
        "detail": "broken-strategies 1.0: its class Misnamed is named 'something_else', but it is registered as 'misnamed'",
        "fix": "fix or uninstall broken-strategies (pip uninstall broken-strategies)",
    }


@pytest.mark.usefixtures("broken")
def test_a_broken_plugin_is_logged_once_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="core.plugins"):
        for _ in range(3):
            kinds = strategy_classes()
    assert set(kinds) == {"ai_trend_following", "basis_arbitrage", "grid", "mean_reversion", "pair_arbitrage", "sma_cross"}
    broken = [r.getMessage() for r in caplog.records if "is broken and skipped" in r.getMessage()]
    assert sorted(m.split("'")[1] for m in broken) == ["bad_defaults", "broken_import", "misnamed", "not_a_class"]
    assert "strategy 'bad_defaults' (from broken-strategies 1.0) is broken and skipped: its declared defaults" in "\n".join(broken)
    with pytest.raises(BrokenStrategy, match="cannot be used: it is int 42"):
        strategy_class("not_a_class")
    with pytest.raises(UnknownStrategy, match="unknown strategy 'nothing_like_it'"):
        strategy_class("nothing_like_it")


@pytest.mark.usefixtures("broken")
async def test_the_engine_starts_without_a_configured_broken_strategy(isolated_home: Path, clock: SimClock,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    config = AppConfig(
        venues={"paper": PaperVenueConfig(markets=[{"symbol": "BTC/USDT"}])},  # type: ignore[list-item]
        strategies={
            "fine": StrategyConfig(kind="sma_cross", enabled=True, fast=5, slow=20),  # type: ignore[call-arg]
            "bad": StrategyConfig(kind="broken_import", enabled=True),
        },
    )
    config.agents.enabled = False
    engine = await build_engine(config, isolated_home, clock=clock)
    try:
        await engine.start()
        assert [(s.strategy_id, s.state) for s in engine.strategies.list_strategies()] == [("fine", "running")]
    finally:
        await engine.close()
    assert "strategy bad is not loaded: the strategy 'broken_import' (from broken-strategies 1.0) cannot be used: " \
           "loading broken_import_mod:Thing failed" in caplog.text
    lost = parse_config("venues:\n  far:\n    type: lostvenue\nstrategies: {}\n")
    with pytest.raises(PluginError, match=r"^venue 'far': the venue 'lostvenue' \(from broken-strategies 1.0\) cannot be used: "
                                          r"loading broken_import_mod:build failed: .*; fix or uninstall the plugin, or remove the venue$"):
        await build_engine(lost, isolated_home, clock=clock)


@pytest.mark.usefixtures("broken")
async def test_the_app_starts_and_says_which_configured_plugin_it_skipped(make_app: Any) -> None:
    config = AppConfig(
        venues={"paper": PaperVenueConfig(markets=[{"symbol": "BTC/USDT"}])},  # type: ignore[list-item]
        strategies={"bad": StrategyConfig(kind="misnamed", enabled=True)},
    )
    config.agents.enabled = False
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert app.engine.strategies.list_strategies() == []
        assert [(n.title, n.message) for n in app._notifications] == [(
            "Plugin skipped", "strategy 'misnamed' (from broken-strategies 1.0): its class Misnamed is named "
                              "'something_else', but it is registered as 'misnamed'",
        )]


@pytest.mark.usefixtures("team")
def test_agents_and_data_providers_from_a_package_join_the_team(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config("agents:\n  onchain:\n    provider: constant\n    options: {score: 0.5}\n").agents
    analysts = build_analysts(config)
    assert [a.name for a in analysts] == ["market", "forecast", "strategy", "onchain", "sentiment", "macro", "listener"]
    assert "agent 'failing' (from listening-post 1.0) is left out of the team: its factory failed: RuntimeError: no microphone" \
        in caplog.text
    assert "agent 'impostor' (from listening-post 1.0) is left out of the team" in caplog.text
    onchain = next(a for a in analysts if a.name == "onchain")
    assert type(onchain.provider).__name__ == "Constant" and onchain.provider.name == "onchain source"  # type: ignore[attr-defined]

    vote = AgentOpinion(agent="listener", direction=Direction.BUY, strength=1.0, confidence=1.0)
    unweighted = build_coordinator(config, SimClock()).fuse([vote])
    assert unweighted.weights == {"listener": 0.0} and unweighted.direction is Direction.HOLD, "no weight: it does not vote"
    weighted = build_coordinator(config.model_copy(update={"weights": {"listener": 1.0}}), SimClock()).fuse([vote])
    assert weighted.direction is Direction.BUY


@pytest.mark.usefixtures("team")
async def test_a_venue_from_a_package_is_configured_by_its_type(isolated_home: Path, clock: SimClock) -> None:
    config = parse_config(
        "venues:\n  sim:\n    type: simvenue\n    markets: [ETH/USDT]\n    seed: 5\n"
        "strategies: {}\nagents:\n  enabled: false\n"
    )
    assert config.venues["sim"].options == {"seed": 5}  # type: ignore[union-attr]
    engine = await build_engine(config, isolated_home, clock=clock)
    try:
        await engine.start()
        assert [i.symbol for i in engine.instruments("sim")] == ["ETH/USDT"]
    finally:
        await engine.close()
    failing = parse_config("venues:\n  sim:\n    type: exploding\nstrategies: {}\n")
    with pytest.raises(PluginError, match=r"^venue 'sim': the venue 'exploding' \(from listening-post 1.0\) could not build it: "
                                          "RuntimeError: no such account$"):
        await build_engine(failing, isolated_home, clock=clock)
    with pytest.raises(ConfigError, match=r"<config>:3: venues.sim.type: value error, no venue plugin 'simvenu' is installed "
                                          r"\(installed: binanceusdm, ccxt, hyperliquid, paper, exploding, simvenue\)"):
        parse_config("venues:\n  sim:\n    type: simvenu\n")


def test_disabled_plugins_are_refused_where_the_configuration_names_them(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("strategies:\n  btc_grid:\n    kind: grid\n    lower: 100\n    upper: 200\n")
    assert main(["--config", str(config), "plugin", "disable", "grid"]) == 0
    out = capsys.readouterr().out
    assert f"disabled the strategy 'grid' (built in) in {isolated_home / 'plugins.json'}" in out
    assert f"{config} uses it (strategies.btc_grid): OpenTrade refuses to start with them until it is enabled again" in out
    assert json.loads((isolated_home / "plugins.json").read_text()) == {"disabled": {"strategy": ["grid"]}}
    assert main(["plugin", "disable", "grid"]) == 0 and "is already disabled" in capsys.readouterr().out

    rows = plugin_rows(capsys)
    assert rows["strategy", "grid", "opentrade-terminal"]["status"] == "disabled"
    assert not rows["strategy", "grid", "opentrade-terminal"]["enabled"]
    assert main(["backtest", "--strategy", "grid", "--data", str(tmp_path / "none.csv")]) == 2
    assert "the strategy 'grid' (built in) is disabled in" in capsys.readouterr().err
    assert main(["config", "validate", str(config)]) == 2
    assert "enable it with 'opentrade plugin enable grid' (configured as 'btc_grid')" in capsys.readouterr().err

    assert main(["--config", str(config), "doctor"]) == 1
    assert ("[FAIL] plugin strategy grid: disabled, but the configuration uses it (strategies.btc_grid)\n"
            "       fix: opentrade plugin enable grid, or remove it from the configuration") in capsys.readouterr().out

    assert main(["plugin", "enable", "grid"]) == 0
    assert main(["config", "validate", str(config)]) == 0
    capsys.readouterr()


def test_a_disabled_venue_or_data_provider_stops_the_start_with_the_reason(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "disable", "paper"]) == 0
    refused = opentrade("--home", str(isolated_home), "run", "--headless", "--duration", "1")
    assert refused.returncode == 2
    assert "venue 'paper': the venue 'paper' (built in) is disabled in " in refused.stderr and "Traceback" not in refused.stderr
    assert main(["plugin", "enable", "paper"]) == 0
    assert main(["plugin", "disable", "http_json"]) == 0
    with pytest.raises(PluginError, match="the data provider 'http_json' \\(built in\\) is disabled"):
        build_analysts(parse_config("agents:\n  macro:\n    url: http://127.0.0.1:1/macro\n").agents)


def test_plugin_names_that_are_unknown_ambiguous_or_a_bad_state_file(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "disable", "gird"]) == 2
    assert "no plugin is named 'gird' (installed: " in capsys.readouterr().err
    root = tmp_path / "site"
    write_package(root, "strategy-agent", {"opentrade.agents": {"sma_cross": "wrong_type_mod:VALUE"}}, STRATEGY_MODULES)
    with on_path(root):
        assert main(["plugin", "disable", "sma_cross"]) == 2
        assert "'sma_cross' names a strategy and an agent: add --kind strategy or --kind agent" in capsys.readouterr().err
        assert main(["plugin", "disable", "sma_cross", "--kind", "agent"]) == 0
    (isolated_home / "plugins.json").write_text('{"disabled": {"strategy": "grid"}}')
    assert main(["plugin", "list"]) == 2
    assert 'plugins.json: expected {"disabled": {"strategy": ["name", ...]}}' in capsys.readouterr().err
    (isolated_home / "plugins.json").write_text("{")
    assert main(["backtest", "--strategy", "grid"]) == 2
    assert "plugins.json:1: not valid JSON" in capsys.readouterr().err


def test_an_installation_without_the_built_in_entry_points_says_to_reinstall(tmp_path: Path) -> None:
    """A source checkout installed before the entry points were added: its stale metadata
    comes first on the path."""
    stale = tmp_path / "stale" / "opentrade_terminal.egg-info"
    stale.mkdir(parents=True)
    (stale / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: opentrade-terminal\nVersion: 0.0.1\n")
    (stale / "entry_points.txt").write_text("[console_scripts]\nopentrade = cli.main:main\n")
    with on_path(stale.parent), pytest.raises(PluginError, match=r"registers no opentrade.strategies entry points: the "
                                                                  r"installation is out of date; reinstall it \(pip install -e \."):
        registry().names("strategy")
