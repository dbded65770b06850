"""Background jobs: bounded, in-memory, with progress events and cooperative cancellation.

A job is any coroutine function `work(context) -> dict` whose result is JSON-able: a training or
a backtest (app/serving/publishing.py, backtests.py), ... The registry runs at most
`max_running` works at once (the others wait as `queued`), refuses new jobs beyond `max_jobs`
unfinished ones (429), records every status change and progress report as a numbered
`JobEvent` that subscribers replay and then follow (GET /jobs/{id}/events), and forgets
finished jobs after `retention_seconds` or beyond `max_finished`.

    queued ──> running ──> succeeded | failed | cancelled
       └──────────────────────────────────────> cancelled

A work reports progress with `context.report(Progress(...))`, or hands a worker process the
picklable hooks of `context.process_hooks(translate)` (app/execution/hooks.py). Cancelling is
cooperative: DELETE /jobs/{id} sets `context.cancel_requested` and the cancel flag of every open
`process_hooks`, which the worker polls between batches; the work then ends with an error and
the job is `cancelled`. A training publishes only after its worker returned, so a cancelled job
publishes nothing. Jobs live in this process's memory: on shutdown every unfinished job is
stopped and marked failed with a message, and a restart forgets them.
"""

from app.jobs.progress import epoch_progress
from app.jobs.registry import EventTranslator, JobContext, JobRegistry, JobWork
from app.jobs.state import FINISHED, JobEvent, JobFailure, JobState, JobStatus, Progress

__all__ = [
    "FINISHED",
    "EventTranslator",
    "JobContext",
    "JobEvent",
    "JobFailure",
    "JobRegistry",
    "JobState",
    "JobStatus",
    "JobWork",
    "Progress",
    "epoch_progress",
]
