"""The executor's bookkeeping: results keyed by evaluation, each counted once."""

from __future__ import annotations

import pytest

from core.backtest.executor import EvalJob, Results, chunked

JOBS = [EvalJob(key, {"fast": key + 2}, 0, 100) for key in range(5)]


def test_a_batch_that_arrives_twice_counts_once() -> None:
    told: list[int] = []
    results = Results(JOBS, told.append)
    results.add([(0, {"sharpe": 1.0}), (1, {"sharpe": 2.0})])
    results.add([(1, {"sharpe": 2.0}), (0, {"sharpe": 1.0})])  # the same chunk, re-run after its worker was lost
    results.add([(4, {"sharpe": 4.0}), (2, {"sharpe": 0.5}), (3, {"sharpe": 0.1})])
    assert told == [2, 3] and sum(told) == len(JOBS)
    assert list(results.complete()) == [0, 1, 2, 3, 4]  # in job order, whatever the arrival order


def test_an_evaluation_no_worker_answered_is_an_error() -> None:
    results = Results(JOBS, lambda n: None)
    results.add([(0, {}), (1, {}), (2, {})])
    assert [job.key for job in results.missing()] == [3, 4]
    with pytest.raises(RuntimeError, match="2 of 5 evaluations came back from no worker"):
        results.complete()


def test_chunks_cover_every_job_once() -> None:
    many = [EvalJob(key, {}, 0, 10) for key in range(37)]
    chunks = chunked(many, slots=2)
    assert [job.key for chunk in chunks for job in chunk] == list(range(37))
    assert len(chunks) == 8 and chunked(many[:3], slots=4) == [[many[0]], [many[1]], [many[2]]]
