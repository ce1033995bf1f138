"""`opentrade report`: the figures from a home's database (fills and funding payments), as a
table and as JSON, the period and strategy choices, and clear refusals with exit code 2."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

import cli.commands.report as report_command
from cli.main import main
from core.clock import SimClock
from core.models import Position, PositionSide
from core.reports import PERIODS
from core.storage.database import Database
from tests.unit.test_reports import FUNDED, HISTORY, NOW, PAID

CONFIG = """
strategies:
  sma: {type: sma_cross, venue: paper, symbols: [BTC/USDT]}
  grid: {type: grid, venue: paper, symbols: [BTC/USDT]}
venues:
  paper:
    markets: [BTC/USDT, ETH/USDT]
"""


@pytest.fixture
def home(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (isolated_home / "config.yaml").write_text(CONFIG)
    monkeypatch.setattr(report_command, "clock", SimClock(start_ms=NOW))
    return isolated_home


async def _store(home: Path) -> None:
    async with await Database.open(home / "opentrade.sqlite") as db:
        for fill in [*HISTORY, *FUNDED]:
            assert await db.record_fill(fill)
        for payment in PAID:
            assert await db.record_funding(payment)
        await db.save_positions("paper", [Position(venue="paper", symbol="ETH/USDT", side=PositionSide.LONG, size=Decimal(1),
                                                   entry_price=Decimal(50), mark_price=Decimal(60))], NOW)


async def _empty(home: Path) -> None:
    async with await Database.open(home / "opentrade.sqlite"):
        pass


@pytest.fixture
def traded(home: Path) -> Path:
    asyncio.run(_store(home))
    return home


def run(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), "report", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_table_per_strategy_and_in_total(traded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(traded, capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Performance, all: 2026-11-29 00:00 to 2026-12-03 12:00 UTC"
    assert lines[1].split()[:4] == ["Strategy", "Return", "Win", "rate"]
    rows = {line.split()[0]: line.split() for line in lines[2:8]}
    assert list(rows) == ["sma", "grid", "carry", "hedge", "manual", "total"]
    assert rows["sma"][1:3] == ["+9.79%", "100.00%"] and rows["grid"][1] == "-5.19%"
    assert [rows[name][8] for name in ("sma", "carry", "hedge", "total")] == ["+0.00", "-3.00", "+1.00", "-1.50"]
    assert rows["total"][6:9] == ["+1.85", "0.65", "-1.50"], "net P&L (funding in it), fees, funding"
    assert rows["manual"][-1] == "+10.00", "open P&L at the stored mark"
    assert "Funding +0.50 on positions no recorded fill explains: in the total only." in lines


def test_json_is_the_report_as_built(traded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(traded, capsys, "--json", "--period", "day", "--strategy", "grid")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["period", "since_ms", "until_ms", "strategies", "total", "unattributed_funding",
                          "contract_size_unknown"]
    assert (data["period"], data["since_ms"], data["until_ms"], data["total"]) == ("day", NOW - 12 * 3_600_000, NOW, None)
    [grid] = data["strategies"]
    assert {k: grid[k] for k in ("name", "fills", "realized", "fees", "net", "capital", "funding", "exposure")} == {
        "name": "grid", "fills": 1, "realized": "-10", "fees": "0.19", "net": "-10.19", "capital": "200",
        "funding": "0", "exposure": 0.5}
    again = run(traded, capsys, "--json", "--period", "day", "--strategy", "grid")[1]
    assert again == out, "the same history and time give the same text"


def test_json_has_the_funding_of_each_strategy_and_the_total(traded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(traded, capsys, "--json")
    assert code == 0
    data = json.loads(out)
    funding = {row["name"]: row["funding"] for row in [*data["strategies"], data["total"]]}
    assert funding == {"sma": "0", "grid": "0", "carry": "-3", "hedge": "1", "manual": "0", "total": "-1.5"}
    assert data["total"]["funding"] == str(sum(payment.amount for payment in PAID)), "every payment on record"
    assert data["unattributed_funding"] == "0.5"


def test_refusals(traded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(traded, capsys, "--strategy", "smaa")
    assert (code, out) == (2, "")
    assert err == "opentrade report: unknown strategy 'smaa': strategies configured or with fills: sma, grid, carry, hedge, manual\n"
    with pytest.raises(SystemExit) as bad_period:
        run(traded, capsys, "--period", "year")
    assert bad_period.value.code == 2
    assert "argument --period: invalid choice: 'year' (choose from 'day', 'week', 'month', 'all')" in capsys.readouterr().err


def test_no_database_yet(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as missing:
        run(home, capsys)
    assert str(missing.value) == f"no database at {home / 'opentrade.sqlite'}: nothing has traded with this home yet"


def test_a_configured_strategy_without_fills_has_a_row(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_empty(home))
    code, out, _ = run(home, capsys, "--strategy", "sma", "--json")
    assert code == 0 and json.loads(out)["strategies"][0]["fills"] == 0


def test_the_choices_are_the_reports_periods() -> None:
    assert report_command.PERIODS == PERIODS
