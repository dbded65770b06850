"""What the routes call: limits, one snapshot per request, training and publishing."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np

from app.errors import (
    ConflictError,
    InvalidInputError,
    JobCancelledError,
    ModelNotFoundError,
    NotReadyError,
    ServiceError,
    StorageError,
    TrainingFailedError,
    TrainingInProgressError,
)
from app.forecasting import (
    CheckpointError,
    InvalidSeriesError,
    ModelConfig,
    TrainingCancelledError,
    TrainingConfig,
    minimum_series_length,
)
from app.forecasting.checkpoint import Checkpoint
from app.forecasting.promotion import PromotePolicy
from app.metrics import ServiceMetrics
from app.quality_rules import (
    ForecastExtras,
    TimeInput,
    TrainingChoices,
    forecast_extras,
    publish_or_keep,
)
from app.settings import Settings
from app.store import ModelSnapshot, ModelStore, utc_now
from app.trainer import TrainingHooks, TrainingJob, TrainingRunner

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
# How far, in training ranges from its centre, a model's input may lie. Beyond it the model
# only extrapolates noise, and its float32 arithmetic would overflow.
INPUT_RANGE_LIMIT = 1e6
DEFAULT_MODEL_POLL_SECONDS = 0.5  # how often a replica waiting for another's default looks


def tutorial_series() -> np.ndarray:
    """The tutorial's sine: sin(x * 2 * 3.1416 / 40) for x = 0..799."""
    return np.sin(np.arange(800, dtype=np.float64) * 2 * 3.1416 / 40)


@dataclass(frozen=True, slots=True)
class TrainSpec:
    """A validated training request, independent of the HTTP schema."""

    name: str
    series: list[float]
    model_config: ModelConfig
    test_size: int
    season_length: int | None
    epochs: int | None
    learning_rate: float | None
    batch_size: int | None
    seed: int | None
    # Internal trainings (the default model at startup) keep "always"; requests resolve it.
    promote: PromotePolicy = "always"
    choices: TrainingChoices | None = None  # `auto` choices and time index, for the metadata


@dataclass(frozen=True, slots=True)
class Prediction:
    snapshot: ModelSnapshot
    values: np.ndarray
    extras: ForecastExtras | None = None  # intervals and timestamps, when asked for


class ForecastService:
    def __init__(self, settings: Settings, store: ModelStore, runner: TrainingRunner) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.torch_threads = 1  # per training: the other core keeps serving
        self.ready = False  # True once the default model serves
        self.metrics = ServiceMetrics(self._served_versions)

    def _served_versions(self) -> list[tuple[str, int]]:
        return [(s.name, s.version) for s in self.list_snapshots()]

    def snapshot(self, name: str) -> ModelSnapshot:
        """The one snapshot a request works on."""
        try:
            return self.store.get(name)
        except ModelNotFoundError:
            if name == DEFAULT_MODEL and not self.ready:
                raise NotReadyError(
                    "the default model is still being trained at startup; retry in a few "
                    "seconds (GET /readyz answers 200 when it is ready)"
                ) from None
            candidates = self.store.versions(name)  # kept, none served: all lost the gate
            if candidates:
                raise ModelNotFoundError(name, candidates=candidates) from None
            raise

    # ----- reading -------------------------------------------------------------------------

    def list_snapshots(self) -> list[ModelSnapshot]:
        return [s for name in self.store.names() if (s := self.store.find(name)) is not None]

    async def delete(self, name: str) -> None:
        if name == DEFAULT_MODEL:
            raise ConflictError(
                "the built-in 'default' model cannot be deleted (clients rely on it); "
                "retrain it with POST /train instead"
            )
        await asyncio.to_thread(self.store.delete, name)

    def _check_series(self, values: list[float], *, name: str) -> None:
        limit = self.settings.max_series_length
        if len(values) > limit:
            raise InvalidInputError(
                f"{name} may hold at most {limit} values (FORECAST_MAX_SERIES_LENGTH); "
                f"got {len(values)}"
            )

    def predict_next(self, name: str, window: list[float]) -> Prediction:
        snapshot = self.snapshot(name)
        expected = snapshot.forecaster.window_size
        if len(window) != expected:
            raise InvalidInputError(
                f"window must hold exactly window_size={expected} values for model {name!r}; "
                f"got {len(window)}"
            )
        _check_model_range(snapshot, window, name="window")
        value = snapshot.forecaster.predict_next(window)
        return Prediction(snapshot, np.array([value]))

    def forecast(
        self,
        name: str,
        horizon: int,
        series: list[float] | None,
        *,
        levels: list[float] | None = None,
        time: TimeInput | None = None,
    ) -> Prediction:
        if horizon > self.settings.max_horizon:
            raise InvalidInputError(
                f"horizon may be at most {self.settings.max_horizon} (FORECAST_MAX_HORIZON); "
                f"got {horizon}"
            )
        snapshot = self.snapshot(name)
        if series is not None:
            self._check_series(series, name="series")
            expected = snapshot.forecaster.window_size
            if len(series) < expected:
                raise InvalidInputError(
                    f"series must hold at least window_size={expected} values for model "
                    f"{name!r}; got {len(series)}"
                )
            _check_model_range(
                snapshot, series[-expected:], name="series", offset=len(series) - expected
            )
        try:
            values = snapshot.forecaster.forecast(horizon, series)
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error
        extras = forecast_extras(
            snapshot,
            values,
            series_length=len(series) if series is not None else None,
            levels=levels,
            time=time or TimeInput(),
        )
        return Prediction(snapshot, values, extras)

    # ----- training --------------------------------------------------------------------------

    def _training_config(self, spec: TrainSpec) -> TrainingConfig:
        if spec.epochs is not None and spec.epochs > self.settings.max_epochs:
            raise InvalidInputError(
                f"epochs may be at most {self.settings.max_epochs} (FORECAST_MAX_EPOCHS); "
                f"got {spec.epochs}"
            )
        defaults = TrainingConfig()
        return TrainingConfig(
            max_epochs=spec.epochs,
            max_seconds=self.settings.max_training_seconds,
            learning_rate=spec.learning_rate or defaults.learning_rate,
            batch_size=spec.batch_size or defaults.batch_size,
            seed=spec.seed if spec.seed is not None else defaults.seed,
            num_threads=self.torch_threads,
        )

    def _check_trainable(self, spec: TrainSpec) -> None:
        self._check_series(spec.series, name="series")
        needed = minimum_series_length(spec.model_config.window_size, spec.test_size)
        if len(spec.series) < needed:
            raise InvalidInputError(
                f"series needs at least {needed} values for window_size "
                f"{spec.model_config.window_size} and test_size {spec.test_size} "
                f"(window_size + 1 + test_size); got {len(spec.series)}"
            )
        if spec.name == DEFAULT_MODEL and spec.model_config != ModelConfig():
            raise InvalidInputError(
                "the built-in 'default' model keeps the tutorial's configuration (lstm, "
                f"window_size 40, hidden_size 50, num_layers 1); got {spec.model_config}. "
                "Train another model name for other settings."
            )

    def check_training(self, spec: TrainSpec) -> None:
        """Refuse, before it is queued as a job, a training that could not start."""
        self._check_trainable(spec)
        self._training_config(spec)
        if self.store.is_training(spec.name):
            raise TrainingInProgressError(spec.name)

    async def train(self, spec: TrainSpec, *, hooks: TrainingHooks | None = None) -> ModelSnapshot:
        """Train a new version of `spec.name` and publish it; the old one serves meanwhile.

        With `hooks` (a background job) the worker reports each epoch and can be cancelled, and
        the training waits for a free training process instead of being refused with 429.
        """
        started = time.perf_counter()
        outcome = "success"
        try:
            return await self._train(spec, hooks)
        except ServiceError as error:
            outcome = error.code
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            outcome = "internal_error"
            raise
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_training(outcome, seconds)
            if outcome != "success":
                # A replica waiting for another's default model polls: keep that out of info.
                logger.log(
                    logging.DEBUG if outcome == "training_in_progress" else logging.INFO,
                    "training not published",
                    extra={"model": spec.name, "outcome": outcome, "seconds": round(seconds, 3)},
                )

    async def _train(self, spec: TrainSpec, hooks: TrainingHooks | None) -> ModelSnapshot:
        self._check_trainable(spec)
        training = self._training_config(spec)
        with self.store.training_lock(spec.name):
            version = self.store.next_version(spec.name)
            metadata = {"name": spec.name, "version": version, "created_at": utc_now()}
            metadata.update(spec.choices.metadata() if spec.choices else {})
            job = TrainingJob(
                series=np.asarray(spec.series, dtype=np.float64),
                model_config=spec.model_config,
                training=training,
                test_size=spec.test_size,
                season_length=spec.season_length,
                metadata=metadata,
                hooks=hooks,
            )
            checkpoint = await self._run(job)
            snapshot = await asyncio.to_thread(
                publish_or_keep, self.store, spec.name, version, checkpoint, spec.promote
            )
        _log_trained(snapshot)
        return snapshot

    async def _run(self, job: TrainingJob) -> Checkpoint:
        try:
            data = await self.runner.run(job, wait=job.hooks is not None)
            # Verified before anything touches the disk, off the event loop, and only once:
            # the store writes and serves this parse (see Checkpoint).
            checkpoint = await asyncio.to_thread(Checkpoint.parse, data)
        except ServiceError:
            raise
        except TrainingCancelledError as error:
            raise JobCancelledError(
                "the training was cancelled before it finished; nothing was published"
            ) from error
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error
        except CheckpointError as error:
            raise TrainingFailedError(
                f"training produced an invalid checkpoint: {error}"
            ) from error
        except OSError as error:
            raise StorageError(f"training could not complete: {error}") from error
        except Exception as error:
            logger.exception("training of %s failed", job.metadata.get("name"))
            raise TrainingFailedError(
                f"training failed: {type(error).__name__}: {error}; the previous version is "
                "still served"
            ) from error
        return checkpoint

    async def ensure_default_model(self) -> ModelSnapshot:
        """Serve the stored default model, or train it on the tutorial's sine and save it.

        Replicas starting together on an empty shared store race for the training lock: the
        loser waits until the winner's model appears (or the winner dies and frees the lock).
        """
        waiting = False
        while True:
            existing = self.store.find(DEFAULT_MODEL)
            if existing is not None:
                self.ready = True
                return existing
            try:
                snapshot = await self._train_default(log=not waiting)
            except TrainingInProgressError:
                if not waiting:
                    logger.info("another process is training the default model: waiting for it")
                waiting = True
                await asyncio.sleep(DEFAULT_MODEL_POLL_SECONDS)
                continue
            self.ready = True
            return snapshot

    async def _train_default(self, *, log: bool) -> ModelSnapshot:
        if log:
            logger.info(
                "no usable default model in %s: training it on the tutorial's sine",
                self.store.root,
            )
        spec = TrainSpec(
            name=DEFAULT_MODEL,
            series=tutorial_series().tolist(),
            model_config=ModelConfig(),
            test_size=40,
            season_length=None,
            epochs=self.settings.default_max_epochs,
            learning_rate=None,
            batch_size=None,
            seed=self.settings.default_seed,
        )
        return await self.train(spec)


def _log_trained(snapshot: ModelSnapshot) -> None:
    """One structured line per published training: no series values (they are users' data)."""
    training = snapshot.forecaster.training
    evaluation = snapshot.forecaster.evaluation
    metrics = {
        key: value
        for key, value in (evaluation.to_dict() if evaluation is not None else {}).items()
        if isinstance(value, int | float) or value is None
    }
    logger.info(
        "trained",
        extra={
            "model": snapshot.name,
            "version": snapshot.version,
            "epochs": training.epochs,
            "refit_epochs": training.refit_epochs,
            "stopped_by": training.stopped_by,
            "seconds": round(training.seconds, 3),
            "metrics": metrics,
        },
    )


def _check_model_range(
    snapshot: ModelSnapshot, values: list[float], *, name: str, offset: int = 0
) -> None:
    """Refuse model inputs too far outside the model's training range (see INPUT_RANGE_LIMIT)."""
    scaler = snapshot.forecaster.scaler
    low = scaler.center - INPUT_RANGE_LIMIT * scaler.scale
    high = scaler.center + INPUT_RANGE_LIMIT * scaler.scale
    # min and max of a short list: cheaper per request than building numpy arrays.
    if low <= min(values) and max(values) <= high:
        return
    position, value = next((i, v) for i, v in enumerate(values) if not low <= v <= high)
    raise InvalidInputError(
        f"{name} values must lie between {low:.6g} and {high:.6g} for model "
        f"{snapshot.name!r} ({INPUT_RANGE_LIMIT:g} half-ranges of its training data either "
        f"side of their centre); got {value!r} at position {offset + position}"
    )
