"""The job registry on its own: in-process works, no training (fast)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import (
    ConflictError,
    InvalidInputError,
    JobNotFoundError,
    NotReadyError,
    TooManyJobsError,
)
from app.jobs import JobContext, JobEvent, JobRegistry, Progress, epoch_progress
from app.jobs.state import json_safe


def registry(**overrides: Any) -> JobRegistry:
    options: dict[str, Any] = {
        "max_jobs": 8,
        "max_running": 2,
        "retention_seconds": 3600.0,
        "max_finished": 100,
    }
    options.update(overrides)
    return JobRegistry(**options)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


async def finish(jobs: JobRegistry, job_id: str) -> list[JobEvent]:
    return [event async for event in jobs.events(job_id)]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the event loop run until `condition` holds (polling, with a deadline)."""
    await asyncio.wait_for(_until(condition), timeout)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0)  # one turn of the event loop


def returning(result: dict[str, Any], reports: int = 0) -> Callable[[JobContext], Any]:
    async def work(context: JobContext) -> dict[str, Any]:
        for epoch in range(1, reports + 1):
            context.report(Progress("fit", epoch=epoch, epochs_planned=reports, train_loss=1.0))
            await asyncio.sleep(0)
        return result

    return work


def blocking(gate: asyncio.Event, log: list[str] | None = None, name: str = "") -> Any:
    async def work(context: JobContext) -> dict[str, Any]:
        if log is not None:
            log.append(name)
        await gate.wait()
        return {"name": name}

    return work


def test_a_job_reports_its_status_changes_and_progress_as_numbered_events() -> None:
    async def scenario() -> None:
        jobs = registry()
        state = jobs.submit("train", returning({"answer": 42}, reports=3), subject="m")
        assert state.status == "queued"
        events = await finish(jobs, state.id)
        assert [e.seq for e in events] == list(range(1, 7))
        assert [(e.kind, e.state.status) for e in events] == [
            ("status", "queued"),
            ("status", "running"),
            ("progress", "running"),
            ("progress", "running"),
            ("progress", "running"),
            ("status", "succeeded"),
        ]
        assert [e.state.progress.epoch for e in events if e.kind == "progress"] == [1, 2, 3]
        final = jobs.get(state.id)
        assert final.result == {"answer": 42}
        assert final.error is None
        assert final.started_at is not None
        assert final.finished_at is not None

    run(scenario)


def test_a_late_subscriber_gets_the_history_and_after_skips_what_it_saw() -> None:
    async def scenario() -> None:
        jobs = registry()
        state = jobs.submit("train", returning({}, reports=2))
        await finish(jobs, state.id)
        replay = await finish(jobs, state.id)
        assert [e.seq for e in replay] == [1, 2, 3, 4, 5]
        resumed = [e async for e in jobs.events(state.id, after=3)]
        assert [e.seq for e in resumed] == [4, 5]
        assert [e async for e in jobs.events(state.id, after=5)] == []

    run(scenario)


def test_at_most_max_running_jobs_run_and_the_others_wait_queued() -> None:
    async def scenario() -> None:
        jobs = registry(max_running=2)
        gate = asyncio.Event()
        started: list[str] = []
        ids = [jobs.submit("train", blocking(gate, started, str(i))).id for i in range(5)]
        await until(lambda: len(started) == 2)
        assert started == ["0", "1"]
        assert [jobs.get(i).status for i in ids] == ["running"] * 2 + ["queued"] * 3
        gate.set()
        for job_id in ids:
            await finish(jobs, job_id)
        assert sorted(started) == ["0", "1", "2", "3", "4"]
        assert all(jobs.get(i).status == "succeeded" for i in ids)

    run(scenario)


def test_more_than_max_jobs_unfinished_are_refused_with_429() -> None:
    async def scenario() -> None:
        jobs = registry(max_jobs=2, max_running=1)
        gate = asyncio.Event()
        first = jobs.submit("train", blocking(gate))
        jobs.submit("train", blocking(gate))
        with pytest.raises(TooManyJobsError, match="FORECAST_MAX_JOBS") as refused:
            jobs.submit("train", blocking(gate))
        assert refused.value.status_code == 429
        gate.set()
        await finish(jobs, first.id)
        jobs.submit("train", returning({}))  # room again

    run(scenario)


def test_a_second_job_for_the_same_subject_conflicts_until_the_first_finishes() -> None:
    async def scenario() -> None:
        jobs = registry()
        gate = asyncio.Event()
        first = jobs.submit("train", blocking(gate), subject="sales")
        with pytest.raises(ConflictError, match=first.id):
            jobs.submit("train", blocking(gate), subject="sales")
        jobs.submit("train", returning({}), subject="other")
        jobs.submit("backtest", returning({}), subject="sales")  # another kind of work
        gate.set()
        await finish(jobs, first.id)
        jobs.submit("train", returning({}), subject="sales")

    run(scenario)


def test_cancelling_a_queued_job_cancels_it_at_once_and_its_work_never_runs() -> None:
    async def scenario() -> None:
        jobs = registry(max_running=1)
        gate = asyncio.Event()
        started: list[str] = []
        running = jobs.submit("train", blocking(gate, started, "first"))
        queued = jobs.submit("train", blocking(gate, started, "second"))
        state = await jobs.cancel(queued.id)
        assert state.status == "cancelled"
        assert state.error is not None
        assert state.error.code == "cancelled"
        gate.set()
        await finish(jobs, running.id)
        # Waiting jobs start in order: once a later one has run, the cancelled one never will.
        later = jobs.submit("train", blocking(gate, started, "later"))
        await finish(jobs, later.id)
        assert started == ["first", "later"]
        with pytest.raises(ConflictError, match="already cancelled"):
            await jobs.cancel(queued.id)

    run(scenario)


def test_cancelling_a_running_job_asks_its_work_to_stop() -> None:
    async def scenario() -> None:
        jobs = registry()
        steps: list[int] = []

        async def work(context: JobContext) -> dict[str, Any]:
            for step in range(1000):
                if context.cancel_requested:
                    raise InvalidInputError("stopped on request")
                steps.append(step)
                await asyncio.sleep(0)  # one step of work, then the loop's other tasks
            return {}

        state = jobs.submit("train", work)
        await until(lambda: len(steps) > 0)
        asked = await jobs.cancel(state.id)
        assert asked.status == "running"
        assert asked.cancel_requested
        events = await finish(jobs, state.id)
        final = events[-1].state
        assert final.status == "cancelled"
        assert final.error is not None
        assert final.error.message == "stopped on request"
        assert 0 < len(steps) < 1000

    run(scenario)


def test_a_failing_work_fails_its_job_with_the_error_its_call_would_answer() -> None:
    async def scenario() -> None:
        jobs = registry()

        async def refused(context: JobContext) -> dict[str, Any]:
            raise InvalidInputError("series needs at least 53 values; got 20")

        async def broken(context: JobContext) -> dict[str, Any]:
            raise ValueError("boom")

        first = jobs.submit("train", refused)
        second = jobs.submit("train", broken)
        await finish(jobs, first.id)
        await finish(jobs, second.id)
        one, two = jobs.get(first.id), jobs.get(second.id)
        assert one.status == two.status == "failed"
        assert one.error is not None
        assert (one.error.code, one.error.status_code) == ("invalid_input", 422)
        assert one.error.message == "series needs at least 53 values; got 20"
        assert two.error is not None
        assert (two.error.code, two.error.status_code) == ("internal_error", 500)
        assert two.error.message == "ValueError: boom"

    run(scenario)


def test_non_finite_numbers_in_results_and_progress_become_null() -> None:
    async def scenario() -> None:
        jobs = registry()

        async def work(context: JobContext) -> dict[str, Any]:
            context.report(Progress("fit", epoch=1, train_loss=math.nan, eta_seconds=math.inf))
            return {"loss": math.inf, "values": [1.0, math.nan], "nested": {"x": -math.inf}}

        state = jobs.submit("train", work)
        events = await finish(jobs, state.id)
        progress = next(e.state.progress for e in events if e.kind == "progress")
        assert progress is not None
        assert progress.train_loss is None
        assert progress.eta_seconds is None
        assert jobs.get(state.id).result == {
            "loss": None,
            "values": [1.0, None],
            "nested": {"x": None},
        }

    run(scenario)


def test_finished_jobs_beyond_max_finished_are_forgotten_oldest_first() -> None:
    async def scenario() -> None:
        jobs = registry(max_finished=2)
        ids = []
        for _ in range(4):
            state = jobs.submit("train", returning({}))
            await finish(jobs, state.id)
            ids.append(state.id)
        assert [s.id for s in jobs.list()] == [ids[3], ids[2]]
        with pytest.raises(JobNotFoundError, match="forgotten when the server restarts"):
            jobs.get(ids[0])

    run(scenario)


def test_finished_jobs_are_forgotten_after_their_retention() -> None:
    async def scenario() -> None:
        jobs = registry(retention_seconds=1e-9)
        gate = asyncio.Event()
        running = jobs.submit("train", blocking(gate))
        done = jobs.submit("train", returning({}))
        await finish(jobs, done.id)
        await until(lambda: [s.id for s in jobs.list()] == [running.id])  # past its retention
        assert jobs.get(running.id).status == "running"  # unfinished jobs are always kept
        with pytest.raises(JobNotFoundError):
            jobs.get(done.id)
        gate.set()

    run(scenario)


def test_shutdown_fails_unfinished_jobs_with_a_message_and_refuses_new_ones() -> None:
    async def scenario() -> None:
        jobs = registry(max_running=1)

        started = asyncio.Event()

        async def stubborn(context: JobContext) -> dict[str, Any]:
            started.set()
            await asyncio.Event().wait()  # never returns; ignores cancellation requests
            return {}

        running = jobs.submit("train", stubborn)
        queued = jobs.submit("train", returning({}))
        await asyncio.wait_for(started.wait(), timeout=10)
        follower = asyncio.ensure_future(finish(jobs, running.id))
        await jobs.shutdown(grace_seconds=0.05)
        for job_id in (running.id, queued.id):
            state = jobs.get(job_id)
            assert state.status == "failed"
            assert state.error is not None
            assert state.error.code == "shutdown"
            assert "nothing was published" in state.error.message
        events = await asyncio.wait_for(follower, timeout=5)
        assert events[-1].state.status == "failed"
        with pytest.raises(NotReadyError):
            jobs.submit("train", returning({}))

    run(scenario)


def test_unknown_jobs_raise_not_found() -> None:
    jobs = registry()
    with pytest.raises(JobNotFoundError, match="no job with id 'abc'"):
        jobs.get("abc")
    with pytest.raises(JobNotFoundError):
        jobs.events("abc")


@given(
    planned=st.integers(1, 500),
    refit=st.integers(0, 5),
    seconds_per_epoch=st.floats(1e-3, 10.0),
)
def test_with_steady_epochs_the_estimate_is_exact(
    planned: int, refit: int, seconds_per_epoch: float
) -> None:
    """With a constant epoch time and no binding time budget, the fraction done after epoch e is
    e / (planned + refit) and the estimate is the time of the epochs left."""
    translate = epoch_progress(refit)
    budget = 10 * (planned + refit) * seconds_per_epoch
    total = planned + refit
    for epoch in range(1, planned + 1):
        progress = translate(
            {
                "phase": "fit",
                "epoch": epoch,
                "max_epochs": planned,
                "elapsed_seconds": epoch * seconds_per_epoch,
                "max_seconds": budget,
                "train_loss": 0.1,
                "validation_loss": 0.2,
            }
        )
        assert progress.fraction == pytest.approx(epoch / total, abs=1e-4)
        assert progress.eta_seconds == pytest.approx((total - epoch) * seconds_per_epoch, abs=1e-2)
    for epoch in range(1, refit + 1):
        progress = translate(
            {
                "phase": "refit",
                "epoch": epoch,
                "max_epochs": refit,
                "elapsed_seconds": (planned + epoch) * seconds_per_epoch,
                "max_seconds": budget,
                "train_loss": 0.1,
                "validation_loss": None,
            }
        )
        assert progress.fraction == pytest.approx((planned + epoch) / total, abs=1e-4)
    assert progress.fraction == 1.0
    assert progress.eta_seconds == 0


@given(
    epoch=st.integers(1, 1000),
    extra=st.integers(0, 1000),
    elapsed=st.floats(1e-6, 1e4),
    budget=st.floats(1e-3, 1e4),
    refit=st.integers(0, 5),
)
def test_the_estimate_is_never_negative_nor_beyond_the_budget(
    epoch: int, extra: int, elapsed: float, budget: float, refit: int
) -> None:
    progress = epoch_progress(refit)(
        {
            "phase": "fit",
            "epoch": epoch,
            "max_epochs": epoch + extra,
            "elapsed_seconds": elapsed,
            "max_seconds": budget,
            "train_loss": 1.0,
            "validation_loss": None,
        }
    )
    assert progress.fraction is not None
    assert 0 < progress.fraction <= 1
    assert progress.eta_seconds is not None
    assert progress.eta_seconds >= 0
    per_epoch = elapsed / epoch
    assert progress.eta_seconds <= max(0.0, budget - elapsed) + refit * per_epoch + 1e-3


@given(
    st.recursive(
        st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=3),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=20,
    )
)
def test_json_safe_leaves_only_finite_numbers(value: Any) -> None:
    import json

    json.dumps(json_safe(value), allow_nan=False)  # raises on NaN / Infinity
