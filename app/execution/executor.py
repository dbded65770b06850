"""The one interface trainings and backtests run behind, and how their failures read.

An executor runs a `TrainingPlan` (answering the verified `Checkpoint`) or a `BacktestPlan`
(answering its report) somewhere other than the event loop, at most `capacity` at once: beyond
that it refuses with 429, or with `wait` (background jobs) waits for a free place. It raises
only `ServiceError`s, translated the same way wherever the work ran (`translated_failures`).
The local process pool (local.py) is the one implementation today; another (a cluster) adds a
module beside it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from app.errors import (
    InvalidInputError,
    JobCancelledError,
    ServiceError,
    StorageError,
    TrainingFailedError,
)
from app.execution.hooks import WorkerHooks
from app.execution.worker import TrainingPlan
from app.forecasting import CheckpointError, InvalidSeriesError, TrainingCancelledError
from app.forecasting.backtest import BacktestPlan, BacktestReport
from app.forecasting.checkpoint import Checkpoint

logger = logging.getLogger(__name__)


class Executor(Protocol):
    """Where trainings and backtests run (see the module docstring)."""

    @property
    def capacity(self) -> int: ...

    @property
    def running(self) -> int: ...

    @property
    def waiting(self) -> int: ...

    async def train(
        self, plan: TrainingPlan, *, hooks: WorkerHooks | None = None, wait: bool = False
    ) -> Checkpoint: ...

    async def backtest(
        self, plan: BacktestPlan, *, hooks: WorkerHooks | None = None, wait: bool = False
    ) -> BacktestReport: ...


@dataclass(frozen=True, slots=True)
class WorkKind:
    """How the failures of one kind of work are worded."""

    noun: str
    nothing_made: str  # what a stopped or dead worker leaves behind
    nothing_lost: str  # what a failure leaves as it was


TRAINING = WorkKind("training", "nothing was published", "the previous version is still served")
BACKTEST = WorkKind("backtest", "no report was made", "nothing was saved")


def too_many(capacity: int) -> str:
    return (
        f"{capacity} trainings or backtests are already running (the most allowed, "
        "FORECAST_MAX_CONCURRENT_TRAININGS); retry when one has finished"
    )


def died(kind: WorkKind) -> str:
    return (
        f"the {kind.noun} process died before finishing (killed or out of memory); "
        f"{kind.nothing_made}"
    )


@contextlib.contextmanager
def translated_failures(kind: WorkKind, subject: str | None = None) -> Iterator[None]:
    """Turn what a worker raises into the ServiceError its request answers."""
    try:
        yield
    except ServiceError:
        raise
    except TrainingCancelledError as error:
        raise JobCancelledError(
            f"the {kind.noun} was cancelled before it finished; {kind.nothing_made}"
        ) from error
    except InvalidSeriesError as error:
        raise InvalidInputError(str(error)) from error
    except CheckpointError as error:
        raise TrainingFailedError(f"{kind.noun} produced an invalid checkpoint: {error}") from error
    except OSError as error:
        raise StorageError(f"{kind.noun} could not complete: {error}") from error
    except Exception as error:
        logger.exception("%s of %s failed", kind.noun, subject)
        raise TrainingFailedError(
            f"{kind.noun} failed: {type(error).__name__}: {error}; {kind.nothing_lost}"
        ) from error
