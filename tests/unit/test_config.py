"""Every kind of configuration error names the file, the line, the key and what is expected."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import AppConfig, ConfigError, load_config, parse_config
from core.secrets import env_prefix, load_credentials
from core.strategies.registry import check_configs

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cfg.yaml")
    return info.value.problems


def test_example_config_is_valid_and_matches_the_design_defaults() -> None:
    config = load_config(ROOT / "config.example.yaml")
    assert config.trading.stop_loss_pct == 0.02
    assert config.trading.take_profit_pct == 0.06
    assert config.trading.auto_protect is False, "no level a trader did not ask for"
    assert config.risk_management.emergency_stop_loss == 0.1
    assert config.risk_management.max_correlation == 0.8
    assert config.risk_management.position_check_interval == 30
    assert config.risk_management.max_position_pct == 0.10
    assert config.risk_management.max_leverage == 3
    assert config.risk_management.max_daily_loss_pct == 0.05
    assert config.risk_management.max_open_positions == 3
    trend = config.strategies["ai_trend_following"]
    assert trend.enabled and trend.params["confidence_threshold"] == 0.7 and trend.params["position_size_pct"] == 0.1
    assert set(config.strategies) >= {"sma_cross", "mean_reversion", "btc_grid", "btc_basis", "eth_btc_pair"}
    assert check_configs(config.strategies) == []
    assert [m.symbol for m in config.venues["paper"].markets] == ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT"]


def test_defaults_equal_the_example() -> None:
    """The example documents the defaults; only its strategy catalogue goes beyond them."""
    example = load_config(ROOT / "config.example.yaml").model_dump(exclude={"strategies"})
    assert example == AppConfig().model_dump(exclude={"strategies"})


def test_unknown_key_names_line_and_path() -> None:
    assert problems("trading:\n  stop_loss_pct: 0.02\n  stop_los_pct: 0.1\n") == [
        "cfg.yaml:3: trading.stop_los_pct: unknown key"
    ]


def test_limits_moved_to_risk_management_are_refused_where_they_were() -> None:
    """The old place of a limit is an error naming the new one, never silently ignored or moved."""
    assert problems("trading:\n  max_daily_loss: 100\n  max_position_size: 900\n") == [
        "cfg.yaml:2: trading.max_daily_loss: this setting moved: write it as risk_management.max_daily_loss",
        "cfg.yaml:3: trading.max_position_size: this setting moved: write it as risk_management.max_position_size",
    ]
    limits = parse_config("risk_management:\n  max_daily_loss: 100\n  max_position_size: 900\n").risk_management
    assert (limits.max_daily_loss, limits.max_position_size) == (Decimal(100), Decimal(900))


def test_wrong_type() -> None:
    [problem] = problems("risk_management:\n  max_open_positions: many\n")
    assert problem.startswith("cfg.yaml:2: risk_management.max_open_positions: input should be a valid integer")
    assert "'many'" in problem


def test_out_of_range_value() -> None:
    [problem] = problems("risk_management:\n  max_daily_loss_pct: 1.5\n")
    assert problem == "cfg.yaml:2: risk_management.max_daily_loss_pct: input should be less than or equal to 1 (got 1.5)"


def test_yaml_syntax_error_has_line_and_column() -> None:
    [problem] = problems("trading:\n  stop_loss_pct: [0.02\nrisk_management: {}\n")
    assert problem.startswith("cfg.yaml:3:")
    assert "YAML syntax error" in problem


def test_several_errors_are_all_reported() -> None:
    found = problems("trading:\n  stop_loss_pct: -1\nrisk_management:\n  max_leverage: 0\n")
    assert [p.split(":")[1] for p in found] == ["2", "4"]


def test_bad_symbol_in_a_venue_list() -> None:
    [problem] = problems("venues:\n  paper:\n    markets: [BTC/USDT, BTCUSDT]\n")
    assert problem.startswith("cfg.yaml:3: venues.paper.markets.1.symbol:")
    assert "unified symbol" in problem


def test_ccxt_venue_inferred_and_mode_checked() -> None:
    [problem] = problems("venues:\n  paper: {}\n  bn:\n    exchange: binance\n    mode: real\n")
    assert problem == "cfg.yaml:5: venues.bn.mode: input should be 'paper' or 'live' (got 'real')"


def test_perpetuals_venues_default_to_their_settle_currency_and_leave_the_margin_mode_alone() -> None:
    config = parse_config("venues:\n  hl:\n    type: hyperliquid\n  bn:\n    type: binanceusdm\n    margin_mode: isolated\n")
    hl, bn = config.venues["hl"], config.venues["bn"]
    assert (hl.exchange, hl.markets, hl.balances) == ("hyperliquid", ["BTC/USDC:USDC"], {"USDC": Decimal(100000)})  # type: ignore[union-attr]
    assert (hl.position_mode, hl.margin_mode) == ("one_way", None)  # type: ignore[union-attr]
    assert (bn.exchange, bn.markets, bn.margin_mode) == ("binanceusdm", ["BTC/USDT:USDT"], "isolated")  # type: ignore[union-attr]


def test_perpetuals_venue_settings_are_checked_with_the_reason() -> None:
    venue = "venues:\n  perp:\n    type: {}\n    {}\n"
    assert problems(venue.format("binanceusdm", "position_mode: hedge")) == [
        "cfg.yaml:3: venues.perp: value error, position_mode: hedge is not supported: OpenTrade keeps one net position "
        "per market (a long and a short of one market at once cannot be shown or risk-checked); use one_way"]
    assert problems(venue.format("binanceusdm", "margin_mode: portfolio")) == [
        "cfg.yaml:4: venues.perp.margin_mode: input should be 'cross' or 'isolated' (got 'portfolio')"]
    assert problems(venue.format("hyperliquid", "margin_mode: isolated")) == [
        "cfg.yaml:3: venues.perp: value error, margin_mode: isolated: Hyperliquid sets a market's margin mode together "
        "with its leverage; add leverage: N (1 to the market's maximum)"]
    assert problems(venue.format("hyperliquid", "markets: [BTC/USDC, ETH/USDC:USDC]")) == [
        "cfg.yaml:3: venues.perp: value error, markets: BTC/USDC is not a perpetual; the hyperliquid venue trades "
        "perpetuals such as BTC/USDC:USDC"]
    assert problems(venue.format("binanceusdm", "options: {marginMode: cross}")) == [
        "cfg.yaml:3: venues.perp: value error, options.marginMode: use the venue's margin_mode key (cross or isolated) instead"]
    assert problems(venue.format("binanceusdm", "exchange: binance")) == [
        "cfg.yaml:3: venues.perp: value error, exchange: the binanceusdm venue is on binanceusdm; remove 'exchange: binance'"]


def test_cross_section_rules() -> None:
    [problem] = problems("trading:\n  default_leverage: 10\n")
    assert "default_leverage 10 is above risk_management.max_leverage 3" in problem
    [problem] = problems("default_venue: binance\n")
    assert "default_venue 'binance' is not among the venues: paper" in problem


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == ["cfg.yaml:1: the file must be a mapping of sections (trading:, venues:, ...)"]


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "opentrade init" in info.value.problems[0]


def test_empty_file_gives_defaults() -> None:
    assert parse_config("", "cfg.yaml") == AppConfig()


def test_credentials_from_environment() -> None:
    env = {"OPENTRADE_MY_BINANCE_API_KEY": "key-123456", "OPENTRADE_MY_BINANCE_SECRET": "secret-abcdef"}
    creds = load_credentials("my-binance", environ=env)
    assert env_prefix("my-binance") == "OPENTRADE_MY_BINANCE_"
    assert creds.complete and creds.source == "environment"
    assert "key-123456" not in repr(creds)
    assert creds.for_ccxt() == {"apiKey": "key-123456", "secret": "secret-abcdef"}


def test_secrets_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text("binance: {api_key: abcdefgh, secret: ijklmnop}\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as info:
        load_credentials("binance", path, environ={})
    assert "chmod 600" in info.value.problems[0]
    os.chmod(path, 0o600)
    creds = load_credentials("binance", path, environ={})
    assert creds.complete and creds.api_key is not None and creds.api_key.get_secret_value() == "abcdefgh"


def test_no_credentials_is_not_an_error() -> None:
    assert not load_credentials("binance", None, environ={}).complete


def test_a_config_with_only_a_ccxt_venue_loads_and_the_builtin_strategy_follows_it() -> None:
    config = parse_config("venues:\n  bn:\n    exchange: binance\n    markets: [ETH/USDT]\n", "cfg.yaml")
    assert config.default_venue == "bn"
    trend = config.strategies["ai_trend_following"]
    assert (trend.venue, trend.symbols, trend.enabled) == ("bn", ["ETH/USDT"], True)
    named = parse_config("venues:\n  paper: {}\n  bn:\n    exchange: binance\ndefault_venue: bn\n", "cfg.yaml")
    assert named.strategies["ai_trend_following"].venue == "bn"


def test_the_builtin_strategy_never_starts_by_itself_on_a_live_venue() -> None:
    config = parse_config("venues:\n  bn:\n    exchange: binance\n    mode: live\n", "cfg.yaml")
    assert config.strategies["ai_trend_following"].venue == "bn"
    assert not config.strategies["ai_trend_following"].enabled


def test_only_enabled_strategies_are_checked_against_the_venues() -> None:
    config = parse_config("strategies:\n  old:\n    kind: sma_cross\n    venue: kraken\n", "cfg.yaml")
    assert config.strategies["old"].venue == "kraken"
    [problem] = problems("strategies:\n  old:\n    kind: sma_cross\n    enabled: true\n    venue: kraken\n")
    assert "strategy 'old' uses venue 'kraken', which is not configured" in problem


def test_a_contract_size_is_for_perpetual_paper_markets() -> None:
    [problem] = problems("venues:\n  paper:\n    markets:\n      - {symbol: BTC/USDT, contract_size: 0.01}\n")
    assert problem.startswith("cfg.yaml:4: venues.paper.markets.0:")
    assert "BTC/USDT is a spot market: contract_size applies to perpetuals only" in problem
    config = parse_config("venues:\n  paper:\n    markets:\n      - {symbol: BTC/USDT:USDT, contract_size: 0.01}\n", "cfg.yaml")
    assert config.venues["paper"].markets[0].contract_size == Decimal("0.01")  # type: ignore[union-attr]
