"""What a worker process is handed to report progress and notice a cancel request.

Both travel pickled to the worker: locally they are `multiprocessing.Manager` proxies
(app/jobs/channel.py); another executor may hand over anything with the same two methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ProgressSink(Protocol):
    """Where a worker puts one dict per epoch (a `multiprocessing.Manager().Queue()` proxy)."""

    def put(self, item: dict[str, Any]) -> None: ...


class CancelFlag(Protocol):
    """What a worker polls to stop early (a `multiprocessing.Manager().Event()` proxy)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class WorkerHooks:
    """Progress and cancellation across the process boundary; both are picklable."""

    progress: ProgressSink | None = None
    cancel: CancelFlag | None = None
