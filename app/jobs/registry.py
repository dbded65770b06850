"""The job registry: runs works in the background, records their events, bounds what it keeps."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.errors import (
    ConflictError,
    JobNotFoundError,
    NotReadyError,
    ServiceError,
    TooManyJobsError,
)
from app.execution.hooks import WorkerHooks
from app.forecasting.metadata import utc_now
from app.jobs.channel import ProcessChannels, set_quietly
from app.jobs.state import (
    EventKind,
    JobEvent,
    JobFailure,
    JobState,
    JobStatus,
    Progress,
    finite,
    json_safe,
)

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 5000  # events kept per job for late subscribers (one per epoch, plus statuses)
SHUTDOWN = JobFailure(
    "shutdown",
    "the server shut down before this job finished; it was stopped and nothing was published. "
    "Submit it again.",
    503,
)

JobWork = Callable[["JobContext"], Awaitable[dict[str, Any]]]
EventTranslator = Callable[[dict[str, Any]], Progress | None]


class _Job:
    """The registry's mutable record of one job."""

    def __init__(self, state: JobState, work: JobWork) -> None:
        self.state = state
        self.work = work
        self.events: deque[JobEvent] = deque(maxlen=HISTORY_LIMIT)
        self.subscribers: set[asyncio.Queue[JobEvent]] = set()
        self.cancel_flags: list[Any] = []  # Manager Event proxies of open process channels
        self.task: asyncio.Task[None] | None = None
        self.started = 0.0  # time.monotonic() when it started running
        self.finished = 0.0  # time.monotonic() when it finished
        self.seq = 0


class JobContext:
    """What a work sees of its job: report progress, notice cancellation, reach a worker."""

    def __init__(self, registry: JobRegistry, job: _Job) -> None:
        self._registry = registry
        self._job = job

    @property
    def job_id(self) -> str:
        return self._job.state.id

    @property
    def cancel_requested(self) -> bool:
        return self._job.state.cancel_requested

    def report(self, progress: Progress) -> None:
        """Publish a progress event; `elapsed_seconds` is set to the job's running time."""
        progress = dataclasses.replace(
            progress,
            elapsed_seconds=round(time.monotonic() - self._job.started, 3),
            time_budget_seconds=finite(progress.time_budget_seconds),
            train_loss=finite(progress.train_loss),
            validation_loss=finite(progress.validation_loss),
            eta_seconds=finite(progress.eta_seconds),
            fraction=finite(progress.fraction),
        )
        self._registry._update(self._job, "progress", progress=progress)

    @contextlib.asynccontextmanager
    async def process_hooks(
        self, translate: EventTranslator | None = None
    ) -> AsyncIterator[WorkerHooks]:
        """Picklable hooks for a worker process (app/execution/hooks.py).

        Every dict the worker puts on `hooks.progress` is translated into a `Progress` and
        reported; `hooks.cancel` is set when the job is cancelled (or already was).
        """

        def deliver(item: dict[str, Any]) -> None:
            if translate is None:  # the work reports no progress
                return
            try:
                progress = translate(item)
            except Exception:
                logger.warning("job %s: unreadable progress event %r", self.job_id, item)
                return
            if progress is not None:
                self.report(progress)

        async with self._registry.channels.open(deliver, self._job.cancel_flags) as hooks:
            if self.cancel_requested:
                await asyncio.to_thread(set_quietly, hooks.cancel)
            yield hooks


class JobRegistry:
    """Background works of this process, at most `max_running` at once."""

    def __init__(
        self, *, max_jobs: int, max_running: int, retention_seconds: float, max_finished: int
    ) -> None:
        self.max_jobs = max_jobs
        self.max_running = max_running
        self.retention_seconds = retention_seconds
        self.max_finished = max_finished
        self.open()

    def open(self) -> None:
        """Start empty and accepting jobs (again, after a shutdown): a server's start."""
        self.channels = ProcessChannels()
        self._jobs: dict[str, _Job] = {}  # creation order
        self._slots = asyncio.Semaphore(self.max_running)
        self._closing = False

    # ----- reading ---------------------------------------------------------------------------

    def get(self, job_id: str) -> JobState:
        return self._job(job_id).state

    def list(self) -> list[JobState]:
        """Known jobs, newest first."""
        self._prune()
        return [job.state for job in reversed(self._jobs.values())]

    def events(self, job_id: str, after: int = 0) -> AsyncIterator[JobEvent]:
        """Events numbered above `after`: the history, then live ones until the job finishes.

        Raises JobNotFoundError at once (not on the first iteration)."""
        return self._follow(self._job(job_id), after)

    async def _follow(self, job: _Job, after: int) -> AsyncIterator[JobEvent]:
        inbox: asyncio.Queue[JobEvent] = asyncio.Queue()
        job.subscribers.add(inbox)
        try:
            last = after
            for event in list(job.events):
                if event.seq > last:
                    last = event.seq
                    yield event
            # Every event is in the history or the inbox; the terminal one is the job's last.
            while not (job.state.finished and last >= job.seq):
                event = await inbox.get()
                if event.seq > last:
                    last = event.seq
                    yield event
        finally:
            job.subscribers.discard(inbox)

    def _job(self, job_id: str) -> _Job:
        self._prune()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(
                f"no job with id {job_id!r}; finished jobs are kept for "
                f"{self.retention_seconds:g} s (FORECAST_JOB_RETENTION_SECONDS) and every job "
                "is forgotten when the server restarts; GET /jobs lists the known ones"
            )
        return job

    # ----- writing ---------------------------------------------------------------------------

    def submit(self, kind: str, work: JobWork, *, subject: str | None = None) -> JobState:
        """Queue `work`; it starts as soon as fewer than `max_running` jobs run."""
        if self._closing:
            raise NotReadyError("the server is shutting down and accepts no new jobs")
        self._prune()
        unfinished = [job.state for job in self._jobs.values() if not job.state.finished]
        for other in unfinished:
            if subject is not None and (other.kind, other.subject) == (kind, subject):
                raise ConflictError(
                    f"{kind} job {other.id} for {subject!r} is already {other.status}; wait for "
                    f"it (GET /jobs/{other.id}) or cancel it (DELETE /jobs/{other.id})"
                )
        if len(unfinished) >= self.max_jobs:
            raise TooManyJobsError(
                f"{len(unfinished)} jobs are already queued or running (the most allowed, "
                "FORECAST_MAX_JOBS); retry when one has finished"
            )
        state = JobState(uuid.uuid4().hex, kind, subject, "queued", created_at=utc_now())
        job = _Job(state, work)
        self._jobs[state.id] = job
        self._emit(job, "status")
        job.task = asyncio.create_task(self._run(job), name=f"job-{state.id}")
        return state

    async def cancel(self, job_id: str) -> JobState:
        """Cancel a queued job at once; ask a running one to stop at its next batch."""
        job = self._job(job_id)
        state = job.state
        if state.finished:
            raise ConflictError(
                f"job {job_id} is already {state.status}; only queued or running jobs can be "
                "cancelled"
            )
        if state.status == "queued":
            failure = JobFailure("cancelled", "cancelled before it started; nothing ran", 409)
            self._finish(job, "cancelled", error=failure, cancel_requested=True)
            if job.task is not None:
                job.task.cancel()
        elif not state.cancel_requested:
            self._update(job, "status", cancel_requested=True)
            for flag in list(job.cancel_flags):
                await asyncio.to_thread(set_quietly, flag)
        return job.state

    async def shutdown(self, grace_seconds: float = 5.0) -> None:
        """Stop every unfinished job (failed, with a message saying why) and the Manager."""
        self._closing = True
        unfinished = [job for job in self._jobs.values() if not job.state.finished]
        for job in unfinished:
            if job.state.status == "queued":
                self._finish(job, "failed", error=SHUTDOWN)
                continue
            # Also stops a work that opens its process hooks only now.
            self._update(job, "status", cancel_requested=True)
            for flag in list(job.cancel_flags):
                await asyncio.to_thread(set_quietly, flag)
        tasks = [job.task for job in unfinished if job.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for job in unfinished:
            if not job.state.finished:
                self._finish(job, "failed", error=SHUTDOWN)
        await self.channels.shutdown()

    # ----- running ---------------------------------------------------------------------------

    async def _run(self, job: _Job) -> None:
        async with self._slots:
            if job.state.finished:  # cancelled while it waited
                return
            job.started = time.monotonic()
            self._update(
                job, "status", status="running", started_at=utc_now(), progress=Progress("starting")
            )
            try:
                result = await job.work(JobContext(self, job))
            except asyncio.CancelledError:
                if not job.state.finished:
                    self._finish(job, "failed", error=SHUTDOWN)
                raise
            except Exception as error:
                self._fail(job, error)
            else:
                self._finish(job, "succeeded", result=json_safe(result))

    def _fail(self, job: _Job, error: Exception) -> None:
        if isinstance(error, ServiceError):
            failure = JobFailure(error.code, error.message, error.status_code)
        else:
            logger.error("job %s (%s) failed", job.state.id, job.state.kind, exc_info=error)
            failure = JobFailure("internal_error", f"{type(error).__name__}: {error}", 500)
        if self._closing:
            self._finish(job, "failed", error=SHUTDOWN)
        else:
            status: JobStatus = "cancelled" if job.state.cancel_requested else "failed"
            self._finish(job, status, error=failure)

    def _finish(self, job: _Job, status: JobStatus, **changes: Any) -> None:
        job.finished = time.monotonic()
        self._update(job, "status", status=status, finished_at=utc_now(), **changes)

    def _update(self, job: _Job, kind: EventKind, **changes: Any) -> None:
        job.state = dataclasses.replace(job.state, **changes)
        self._emit(job, kind)

    def _emit(self, job: _Job, kind: EventKind) -> None:
        job.seq += 1
        event = JobEvent(job.seq, kind, job.state)
        job.events.append(event)
        for inbox in job.subscribers:
            inbox.put_nowait(event)

    def _prune(self) -> None:
        """Forget finished jobs past their retention, and the oldest beyond `max_finished`."""
        now = time.monotonic()
        finished = sorted(
            (job for job in self._jobs.values() if job.state.finished), key=lambda j: j.finished
        )
        excess = len(finished) - self.max_finished
        for index, job in enumerate(finished):
            if index < excess or now - job.finished > self.retention_seconds:
                del self._jobs[job.state.id]
