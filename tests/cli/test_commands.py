"""The command line as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "trade", "config", "init", "doctor", "audit"):
        assert command in out


HEAVY_FOR_HELP = ("pandas", "numpy", "textual", "aiohttp", "ccxt")
MODULES_AFTER_HELP = f"""
import sys
from cli.main import main
try:
    main(["--help"])
except SystemExit:
    pass
print(sorted(name for name in {HEAVY_FOR_HELP!r} if name in sys.modules))
"""


def test_help_imports_no_data_ui_or_network_library() -> None:
    """`opentrade --help` loads every command's module to list them: a module that imported
    pandas, Textual or aiohttp at its top made the help take about 0.9 s of CPU. A fresh
    interpreter, so nothing is imported yet."""
    done = subprocess.run([sys.executable, "-c", MODULES_AFTER_HELP], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=True)
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


def test_the_garbage_collector_is_on_again_after_a_command_and_after_an_app_that_did_not_start(tmp_path: Path) -> None:
    """The command line is read with the collector off; every command but the app's gets it
    back before it runs, and the app turns it on once started, or when it does not start."""
    assert gc.isenabled()
    with pytest.raises(SystemExit):
        main(["--help"])
    assert gc.isenabled()
    assert main(["--home", str(tmp_path), "config", "show", "--json"]) == 0
    assert gc.isenabled()
    assert main(["--home", str(tmp_path), "trade", "--venue", "nowhere"]) == 2
    assert gc.isenabled()


def test_config_show_redacts_and_reports_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("venues:\n  paper: {}\n  bn:\n    exchange: binance\n  hl:\n    type: hyperliquid\n")
    monkeypatch.setenv("OPENTRADE_BN_API_KEY", "very-secret-key-1")
    monkeypatch.setenv("OPENTRADE_BN_SECRET", "very-secret-value-2")
    assert main(["--config", str(path), "config", "show", "--json"]) == 0
    out = capsys.readouterr().out
    assert "very-secret" not in out
    data = json.loads(out)
    assert data["config"]["credentials"]["bn"].startswith("set (from environment")
    assert data["config"]["credentials"]["hl"] == "not set"
    assert data["config"]["venues"]["bn"]["exchange"] == "binance"


def test_config_validate_good_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(ROOT / "config.example.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk_management:\n  max_leverage: lots\n")
    assert main(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: risk_management.max_leverage: input should be a valid integer" in err
    assert "Traceback" not in err


def test_config_validate_checks_strategy_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategies:\n  sma_cross:\n    enabled: true\n    fast: 500\n    slow: 100\n")
    assert main(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "sma_cross" in err and "fast" in err


def test_bad_global_config_fails_every_command_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trading: [\n")
    assert main(["--config", str(bad), "config", "show"]) == 2
    assert "YAML syntax error" in capsys.readouterr().err


def test_init_writes_the_commented_example_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENTRADE_HOME")
    assert main(["init"]) == 0
    written = Path(os.environ["XDG_CONFIG_HOME"]) / "opentrade" / "config.yaml"
    assert written.read_text() == (ROOT / "config.example.yaml").read_text()
    assert main(["init"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["config", "validate"]) == 0


def test_init_works_from_an_installed_package_away_from_the_checkout(tmp_path: Path) -> None:
    """A wheel holds only the packages: the example must travel inside `cli`, not beside the checkout."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "cli", site / "cli", symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), "init"],
        env={**os.environ, "PYTHONPATH": str(site)}, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (home / "config.yaml").read_text() == (ROOT / "config.example.yaml").read_text()


@pytest.mark.parametrize("chosen_by", ["--home", "OPENTRADE_HOME"])
def test_init_with_a_home_writes_there_and_every_command_reads_it_from_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, chosen_by: str
) -> None:
    home = tmp_path / "desk"
    monkeypatch.delenv("OPENTRADE_HOME")
    if chosen_by == "OPENTRADE_HOME":
        monkeypatch.setenv("OPENTRADE_HOME", str(home))
    options = ["--home", str(home)] if chosen_by == "--home" else []
    assert main([*options, "init"]) == 0
    written = home / "config.yaml"
    assert f"wrote {written}" in capsys.readouterr().out
    assert not (Path(os.environ["XDG_CONFIG_HOME"]) / "opentrade" / "config.yaml").exists()
    written.write_text(written.read_text().replace("seed: 42", "seed: 7"))
    assert main([*options, "config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["source"] == str(written) and shown["config"]["venues"]["paper"]["seed"] == 7
    assert main([*options, "config", "validate"]) == 0
    assert f"{written}: valid" in capsys.readouterr().out
    assert main([*options, "init"]) == 1


def test_doctor_reports_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in report["checks"]]
    assert report["ok"]
    assert names[:4] == ["python", "config", "home", "database"]
    assert "venue paper" in names


def test_doctor_shows_a_perpetuals_venue_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("venues:\n  bn:\n    type: binanceusdm\n    margin_mode: isolated\n")
    main(["--config", str(config), "doctor"])
    out = capsys.readouterr().out
    assert "venue bn: ccxt binanceusdm, paper mode, credentials not set; one-way positions, isolated margin" in out


def test_doctor_explains_a_broken_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues:\n  paper:\n    seed: x\n")
    assert main(["--config", str(bad), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] config:" in out and "venues.paper.seed" in out and "fix:" in out


def test_doctor_flags_a_world_readable_secrets_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("bn: {api_key: abcdefgh, secret: ijklmnop}\n")
    os.chmod(secrets, 0o644)
    config = tmp_path / "c.yaml"
    config.write_text(f"secrets_file: {secrets}\n")
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] secrets file" in out and "chmod 600" in out
    assert "ijklmnop" not in out


def test_audit_verify_on_a_fresh_home_says_nothing_ran(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "verify"])
    assert "no database" in str(info.value.code)


def test_audit_export_rejects_a_bad_date() -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "export", "--since", "yesterday"])
    assert "not an ISO date" in str(info.value.code)


def test_headless_run_as_a_real_process(tmp_path: Path) -> None:
    """`opentrade run --headless --duration` starts the engine, logs status, stops cleanly, and
    leaves an intact audit trail behind."""
    import subprocess
    import sys

    home = tmp_path / "server"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), "run", "--headless", "--duration", "1.5", "--status-every", "0.5"],
        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "engine running with venues paper" in done.stderr
    assert re.search(r"equity \d+\.\d\d  daily pnl [+-]\d+\.\d\d  positions 0  open orders 0  risk active", done.stderr)
    assert "engine stopped" in done.stderr
    assert "Traceback" not in done.stderr
    verify = subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), "audit", "verify"],
        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
    )
    assert verify.returncode == 0 and "audit log intact" in verify.stdout

    with sqlite3.connect(home / "opentrade.sqlite") as conn:
        triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        for name in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE audit_log SET payload = '{}' WHERE seq = 2")
    broken = subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), "audit", "verify"],
        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
    )
    assert broken.returncode == 1
    assert "BROKEN at entry 2" in broken.stderr


def test_headless_run_rejects_a_bad_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--headless", "--duration", "-1"]) == 2


def test_run_without_headless_opens_the_app_with_the_trade_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.commands import trade

    seen: list[tuple[str | None, str | None, str | None, int | None]] = []
    monkeypatch.setattr(trade, "_run", lambda args, ctx, signals: seen.append((args.theme, args.mode, args.venue, args.seed)) or 0)
    assert main(["run", "--venue", "paper", "--seed", "7"]) == 0
    assert seen == [(None, None, "paper", 7)]


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    """`opentrade venues | head -1`: the reader is gone before the command writes."""
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", "config", "show"], stdout=write_end, stderr=subprocess.PIPE,
            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
