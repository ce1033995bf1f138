"""Sweeps on a Dask cluster: the in-process answer for the same seed, the candles shipped once,
nothing lost or counted twice when a worker is killed mid-sweep, and clear refusals. One local
cluster (two worker processes on 127.0.0.1) serves the module: starting one costs seconds."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from core.backtest.cluster import ClusterError, DaskCluster, parse_cluster
from core.backtest.data import Bars, load_bars
from core.backtest.executor import EvalContext, EvalJob
from core.backtest.optimizer import OptimizationResult, SearchSettings, optimize
from core.backtest.result import BacktestSettings
from core.strategies.mean_reversion import MeanReversion
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA

SETTINGS = BacktestSettings(cash=10_000.0, fee=0.001)
CANDLES = DATA / "binance_BTC_USDT-1h-5000.csv"


@pytest.fixture(scope="module")
def bars() -> Bars:
    return load_bars(CANDLES, symbol="BTC/USDT")


@pytest.fixture(scope="module")
def cluster() -> Iterator[DaskCluster]:
    with DaskCluster(parse_cluster("local:2")) as started:
        yield started


def same(a: OptimizationResult, b: OptimizationResult) -> bool:
    return a.summary() | {"elapsed_s": 0} == b.summary() | {"elapsed_s": 0}


def worker_pids(cluster: DaskCluster) -> list[int]:
    return sorted(cluster.client.run(os.getpid).values())


def test_a_local_cluster_gives_the_in_process_answer(cluster: DaskCluster, bars: Bars) -> None:
    genetic = SearchSettings(population=8, generations=3, seed=11, folds=2)
    assert same(optimize(SmaCross, bars, genetic, SETTINGS, executor=cluster), optimize(SmaCross, bars, genetic, SETTINGS))
    grid = SearchSettings(method="grid", grid_points=4, objective="total_return")
    on_cluster = optimize(MeanReversion, bars, grid, SETTINGS, executor=cluster)
    assert same(on_cluster, optimize(MeanReversion, bars, grid, SETTINGS)) and on_cluster.evaluations > 20


def test_the_candles_go_to_each_worker_once(cluster: DaskCluster, bars: Bars) -> None:
    jobs = [EvalJob(key, {"fast": 5 + key, "slow": 50}, 0, len(bars)) for key in range(12)]
    with cluster.open(EvalContext(SmaCross, bars, SETTINGS, "auto")) as session:
        first = session.run(jobs[:6], lambda n: None)
        second = session.run(jobs[6:], lambda n: None)
        held = {worker: [key for key in keys if "EvalContext" in str(key)] for worker, keys in cluster.client.has_what().items()}
    assert len(first) == len(second) == 6
    shipped = {key for keys in held.values() for key in keys}
    assert len(held) == 2 and len(shipped) == 1 and all(len(keys) == 1 for keys in held.values())
    assert released(cluster), "the candles are released when the search ends"


def released(cluster: DaskCluster) -> bool:
    """The scheduler forgets a cancelled key on its own time: a bounded wait for it (up to 30 s, as a
    loaded machine can keep the scheduler's thread from running for seconds)."""
    for _ in range(600):
        if not [key for keys in cluster.client.has_what().values() for key in keys if "EvalContext" in str(key)]:
            return True
        time.sleep(0.05)
    return False


def test_a_worker_killed_mid_sweep_loses_and_repeats_nothing(cluster: DaskCluster, bars: Bars) -> None:
    victim = worker_pids(cluster)[0]
    told: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        told.append((done, total))
        if done >= total // 3 and victim not in killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    killed: list[int] = []

    search = SearchSettings(method="grid", grid_points=12, only=("fast", "slow"))
    on_cluster = optimize(SmaCross, bars, search, SETTINGS, executor=cluster, progress=progress)
    cluster.client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker
    assert killed and victim not in worker_pids(cluster)
    in_process = optimize(SmaCross, bars, search, SETTINGS)
    assert same(on_cluster, in_process) and on_cluster.evaluations == in_process.evaluations > 50
    total = told[-1][1]
    assert told[-1] == (total, total) and all(a <= b for (a, _), (b, _) in zip(told, told[1:], strict=False))


def test_a_cluster_that_lost_every_copy_of_the_candles_gets_them_again(bars: Bars, caplog: pytest.LogCaptureFixture) -> None:
    search = SearchSettings(population=10, generations=3, seed=4)
    with DaskCluster(parse_cluster("local:1")) as alone:
        (only,) = worker_pids(alone)

        def progress(done: int, total: int) -> None:
            if done >= total // 2 and not killed:
                os.kill(only, signal.SIGKILL)
                killed.append(only)

        killed: list[int] = []

        with caplog.at_level(logging.WARNING, logger="core.backtest.cluster"):
            on_cluster = optimize(SmaCross, bars, search, SETTINGS, executor=alone, progress=progress)
        alone.client.wait_for_workers(1, timeout=60)
        assert killed and only not in worker_pids(alone)
    assert same(on_cluster, optimize(SmaCross, bars, search, SETTINGS))
    assert "lost its copy of the candles" in caplog.text


@pytest.mark.parametrize(
    ("text", "address", "workers"),
    [("local", None, 2), ("local:3", None, 3), ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786", 0),
     ("scheduler.lan:8786", "tcp://scheduler.lan:8786", 0)],
)
def test_cluster_addresses(text: str, address: str | None, workers: int) -> None:
    spec = parse_cluster(text)
    assert (spec.address, spec.workers) == (address, workers)


def test_workers_that_cannot_import_our_code_are_found_at_start(cluster: DaskCluster) -> None:
    with pytest.raises(ClusterError, match=r"cannot import OpenTrade's code \(No module named 'core.not_installed'\)"):
        cluster.import_on_workers(("core.backtest.executor", "core.not_installed"))


def test_a_scheduler_nobody_answers_at_is_one_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ClusterError, match=f"cannot use the Dask cluster at tcp://127.0.0.1:{port}"):
        DaskCluster(parse_cluster(f"127.0.0.1:{port}"), timeout_s=0.5).start()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_optimize_and_evolve_on_a_scheduler_address(cluster: DaskCluster, capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    address = cluster.client.scheduler.address
    common = ["--strategy", "sma_cross", "--symbol", "BTC/USDT", "--data", str(CANDLES), "--population", "6",
              "--generations", "2", "--json"]
    code, out, err = run_cli(capsys, "optimize", *common, "--cluster", address)
    assert code == 0, err
    there = json.loads(out)
    code, out, _ = run_cli(capsys, "optimize", *common)
    here = json.loads(out)
    assert there["cluster"]["address"] == address and there["cluster"]["workers"] == 2 and here["cluster"] is None
    assert there["best"] == here["best"] and there["evaluations"] == here["evaluations"]

    config = tmp_path / "config.yaml"
    config.write_text("strategies:\n  btc_sma:\n    kind: sma_cross\n    enabled: false\n    fast: 3\n    slow: 4\n")
    review = ["--config", str(config), "--home", str(tmp_path / "home"), "evolve", "--strategy", "btc_sma", "--symbol",
              "BTC/USDT", "--data", str(CANDLES), "--population", "6", "--generations", "2", "--dry-run", "--json"]
    code, out, err = run_cli(capsys, *review, "--cluster", address)
    assert code == 0, err
    reviewed_there = json.loads(out)
    code, out, _ = run_cli(capsys, *review)
    assert reviewed_there["challenger"] == json.loads(out)["challenger"] and reviewed_there["cluster"]["workers"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cluster", "local:0"], "a local cluster has 1 to 64 workers (got 0)"),
        (["--cluster", "my laptop"], "'my laptop' is not local, local:N or a scheduler address"),
        (["--cluster", "local", "--workers", "2"], "--workers sets the local process pool; with --cluster"),
    ],
)
def test_bad_cluster_options_are_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str], extra: list[str],
                                                          message: str) -> None:
    code, out, err = run_cli(capsys, "optimize", "--strategy", "sma_cross", "--data", str(CANDLES), *extra)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_without_dask_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an install without the extra looks like
    with pytest.raises(ClusterError, match=r"Dask distributed is not installed: pip install 'opentrade-terminal\[cluster\]'"):
        DaskCluster(parse_cluster("local:1")).start()
