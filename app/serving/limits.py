"""Every bound a request must keep, checked in one place, each with its one message.

The configured caps (FORECAST_MAX_*), the shapes a served model accepts (its window size, the
range its inputs may span) and the built-in default model's fixed configuration. Messages say
what was expected, what arrived, and which setting sets the bound.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized

from app.errors import InvalidInputError
from app.forecasting import TrainingConfig, minimum_series_length
from app.serving.default_model import DEFAULT_MODEL, TUTORIAL
from app.serving.specs import TrainingOptions, TrainingSpec
from app.settings import Settings
from app.store import ModelSnapshot

# How far, in training ranges from its centre, a model's input may lie. Beyond it the model
# only extrapolates noise, and its float32 arithmetic would overflow.
INPUT_RANGE_LIMIT = 1e6


class Limits:
    """The bounds of one service, from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.max_series_length = settings.max_series_length
        self.max_horizon = settings.max_horizon
        self.max_epochs = settings.max_epochs
        self.max_training_seconds = settings.max_training_seconds
        # Torch threads follow the CPU limit (cgroup quota) unless FORECAST_TORCH_THREADS is
        # set, shared among the trainings that may run at once.
        self.training_threads = max(
            1, settings.resolved_torch_threads() // settings.max_concurrent_trainings
        )

    # ----- requests ----------------------------------------------------------------------------

    def series(self, values: Sized, *, name: str = "series") -> None:
        if len(values) > self.max_series_length:
            raise InvalidInputError(
                f"{name} may hold at most {self.max_series_length} values "
                f"(FORECAST_MAX_SERIES_LENGTH); got {len(values)}"
            )

    def horizon(self, horizon: int) -> None:
        if horizon > self.max_horizon:
            raise InvalidInputError(
                f"horizon may be at most {self.max_horizon} (FORECAST_MAX_HORIZON); got {horizon}"
            )

    def epochs(self, epochs: int | None, *, backtest_trainings: int | None = None) -> None:
        """A training's epoch cap; a backtest's, times the trainings it runs."""
        if epochs is None:
            return
        if backtest_trainings is None and epochs > self.max_epochs:
            raise InvalidInputError(
                f"epochs may be at most {self.max_epochs} (FORECAST_MAX_EPOCHS); got {epochs}"
            )
        if backtest_trainings is not None and epochs * backtest_trainings > self.max_epochs:
            raise InvalidInputError(
                f"a backtest trains {backtest_trainings} time(s), so epochs x trainings may be at "
                f"most {self.max_epochs} (FORECAST_MAX_EPOCHS); got {epochs} x "
                f"{backtest_trainings}"
            )

    def training(self, options: TrainingOptions) -> TrainingConfig:
        """The bounded configuration of one training: its epochs checked, the time budget and
        the thread share set, the rest from the request or the planned defaults."""
        self.epochs(options.epochs)
        defaults = TrainingConfig()
        return TrainingConfig(
            max_epochs=options.epochs,
            max_seconds=self.max_training_seconds,
            learning_rate=options.learning_rate or defaults.learning_rate,
            batch_size=options.batch_size or defaults.batch_size,
            seed=options.seed if options.seed is not None else defaults.seed,
            num_threads=self.training_threads,
        )

    def trainable(self, spec: TrainingSpec) -> None:
        """A series long enough for the configuration; the default model's configuration."""
        self.series(spec.series)
        window_size = spec.model_config.window_size
        needed = minimum_series_length(window_size, spec.test_size)
        if len(spec.series) < needed:
            raise InvalidInputError(
                f"series needs at least {needed} values for window_size {window_size} and "
                f"test_size {spec.test_size} (window_size + 1 + test_size); got {len(spec.series)}"
            )
        if spec.name == DEFAULT_MODEL and spec.model_config != TUTORIAL:
            raise InvalidInputError(
                "the built-in 'default' model keeps the tutorial's configuration (lstm, "
                f"window_size 40, hidden_size 50, num_layers 1); got {spec.model_config}. "
                "Train another model name for other settings."
            )

    # ----- what a served model accepts ---------------------------------------------------------

    def window(self, snapshot: ModelSnapshot, window: Sequence[float]) -> None:
        expected = snapshot.forecaster.window_size
        if len(window) != expected:
            raise InvalidInputError(
                f"window must hold exactly window_size={expected} values for model "
                f"{snapshot.name!r}; got {len(window)}"
            )
        self.input_range(snapshot, window, name="window")

    def history(self, snapshot: ModelSnapshot, series: Sequence[float]) -> None:
        """A series to forecast from: within the length cap, and at least one window of it."""
        self.series(series)
        expected = snapshot.forecaster.window_size
        if len(series) < expected:
            raise InvalidInputError(
                f"series must hold at least window_size={expected} values for model "
                f"{snapshot.name!r}; got {len(series)}"
            )
        last = series[-expected:]
        self.input_range(snapshot, last, name="series", offset=len(series) - expected)

    @staticmethod
    def input_range(
        snapshot: ModelSnapshot, values: Sequence[float], *, name: str, offset: int = 0
    ) -> None:
        """Refuse model inputs too far outside the model's training range (INPUT_RANGE_LIMIT)."""
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
