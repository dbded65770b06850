"""A trained, servable model (`Forecaster`) and `fit`, which makes one from a series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from app.forecasting.config import ModelConfig, TrainingConfig
from app.forecasting.engine import InferenceWeights, forecast_pipelined
from app.forecasting.errors import InvalidSeriesError
from app.forecasting.evaluation import HoldoutEvaluation, evaluate_holdout, infer_season_length
from app.forecasting.finite import clip_to_finite
from app.forecasting.intervals import ConformalResiduals, WindowForecast, calibrate_residuals
from app.forecasting.kernel import predict_one
from app.forecasting.pipeline import forecast_windows
from app.forecasting.scaling import Scaler
from app.forecasting.training import (
    ProgressCallback,
    StateDict,
    StopCallback,
    TrainingInfo,
    train_model,
)
from app.forecasting.windowing import FloatArray, as_series


@dataclass(frozen=True, slots=True)
class Forecaster:
    """An immutable trained model: weights, scaler, the series it was trained on, its scores."""

    config: ModelConfig
    scaler: Scaler
    state: StateDict
    series: FloatArray  # the whole training series (training part + holdout), read-only
    training: TrainingInfo
    evaluation: HoldoutEvaluation | None
    intervals: ConformalResiduals | None = None  # out-of-sample errors for prediction intervals
    weights: InferenceWeights = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.series.setflags(write=False)
        for tensor in self.state.values():
            tensor.requires_grad_(False)
        object.__setattr__(
            self, "weights", InferenceWeights.from_state_dict(self.config, self.state)
        )

    @property
    def window_size(self) -> int:
        return self.config.window_size

    def _check_window(self, window: FloatArray, *, name: str) -> None:
        if len(window) != self.window_size:
            raise InvalidSeriesError(
                f"{name} must hold exactly window_size={self.window_size} values; got {len(window)}"
            )

    def predict_next(self, window: Sequence[float] | FloatArray) -> float:
        """The value after `window` (exactly `window_size` values), from a zero state."""
        values = as_series(window, name="window")
        self._check_window(values, name="window")
        # model_inputs -> predict_windows -> model_outputs, fused into one compiled call.
        return predict_one(
            self.weights.kernel,
            values,
            self.scaler.center,
            self.scaler.scale,
            difference=self.config.difference,
        )

    def forecast(
        self, horizon: int, series: Sequence[float] | FloatArray | None = None
    ) -> FloatArray:
        """`horizon` values after `series` (default: the training series), the tutorial's way."""
        history = self.series if series is None else as_series(series)
        first: FloatArray = self.forecast_many([history], horizon)[0]
        return first

    def forecast_many(
        self, histories: Sequence[Sequence[float] | FloatArray], horizon: int
    ) -> FloatArray:
        """(B, horizon) forecasts for B series in one compiled call (pipeline.py)."""
        if horizon < 1:
            raise InvalidSeriesError(f"horizon must be >= 1; got {horizon}")
        if len(histories) == 0:
            raise InvalidSeriesError("forecast_many needs at least one series; got none")
        windows = np.empty((len(histories), self.window_size))
        for row, history in enumerate(histories):
            values = as_series(history)
            if len(values) < self.window_size:
                raise InvalidSeriesError(
                    f"series must hold at least window_size={self.window_size} values; "
                    f"got {len(values)}"
                )
            windows[row] = values[-self.window_size :]
        # model_inputs -> the pipelined network -> model_outputs, fused into one compiled call.
        return forecast_windows(
            self.weights.kernel,
            windows,
            horizon,
            self.scaler.center,
            self.scaler.scale,
            difference=self.config.difference,
        )


def model_inputs(config: ModelConfig, scaler: Scaler, windows: FloatArray) -> FloatArray:
    """(B, w) windows in series units -> (B, input_length) scaled network inputs."""
    if config.difference:
        with np.errstate(over="ignore", invalid="ignore"):
            windows = np.diff(windows, axis=1)  # (B, w - 1); overflow is clipped by the scaler
    return scaler.transform(windows)


def model_outputs(
    config: ModelConfig, scaler: Scaler, windows: FloatArray, outputs: FloatArray
) -> FloatArray:
    """(B, H) scaled network outputs after (B, w) windows -> (B, H) values in series units."""
    restored = scaler.inverse_transform(outputs)
    if config.difference:
        with np.errstate(over="ignore", invalid="ignore"):
            restored = windows[:, -1:] + np.cumsum(restored, axis=1)  # differences summed back
        restored = clip_to_finite(restored)
    return restored


MAX_CALIBRATION_HORIZON = 200  # steps of the conformal error table, at most


def minimum_series_length(window_size: int, test_size: int) -> int:
    """Values needed to train: at least one (window, label) pair before the holdout."""
    return window_size + 1 + test_size


def fit(
    series: Sequence[float] | FloatArray,
    model_config: ModelConfig | None = None,
    training: TrainingConfig | None = None,
    *,
    test_size: int = 40,
    season_length: int | None = None,
    on_epoch: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    calibrate: bool = True,
) -> Forecaster:
    """Train the tutorial's way: hold out the last `test_size` points, forecast them
    autoregressively from the last training window and score them against the baselines; then
    train on the whole series before the model is used.

    With `calibrate`, the model selected before the refit also forecasts from rolling origins in
    the part of the series it never trained on, for conformal prediction intervals (intervals.py).
    """
    model_config = model_config or ModelConfig()
    values = _trainable(series, model_config, test_size)
    train_part = values[: len(values) - test_size]
    # What the network reads: the values, or their first differences (one fewer).
    inputs = np.diff(values) if model_config.difference else values
    train_inputs = inputs[: len(inputs) - test_size]
    scaler = Scaler.fit(train_inputs)
    if season_length is None:
        season_length = infer_season_length(train_part)
    selected, final, info = train_model(
        scaler.transform(train_inputs),
        # train_model windows what it is given: windows of input_length network inputs.
        replace(model_config, window_size=model_config.input_length, difference=False),
        training or TrainingConfig(),
        refit_series=scaler.transform(inputs) if test_size > 0 else None,
        on_epoch=on_epoch,
        should_stop=should_stop,
    )
    # The model selected before the refit has never seen the holdout (nor the validation part),
    # nor anything after its training windows: its forecasts of those are out of sample.
    first_unseen = model_config.window_size + info.train_windows
    unseen = _Unseen(values, model_config.window_size, test_size, first_unseen)
    forecast_windows = _window_forecaster(model_config, scaler, selected)
    evaluation = unseen.holdout(forecast_windows, season_length)
    intervals = unseen.calibration(forecast_windows, season_length) if calibrate else None
    return Forecaster(
        config=model_config,
        scaler=scaler,
        state=final,
        series=values,
        training=info,
        evaluation=evaluation,
        intervals=intervals,
    )


def _trainable(
    series: Sequence[float] | FloatArray, model_config: ModelConfig, test_size: int
) -> FloatArray:
    """The series as a float array, refused when it is too short for `fit`."""
    values = as_series(series)
    needed = minimum_series_length(model_config.window_size, test_size)
    if test_size < 0:
        raise InvalidSeriesError(f"test_size must be >= 0; got {test_size}")
    if len(values) < needed:
        raise InvalidSeriesError(
            f"series needs at least {needed} values (window_size {model_config.window_size} "
            f"+ 1 label + test_size {test_size}); got {len(values)}"
        )
    return values


@dataclass(frozen=True, slots=True)
class _Unseen:
    """What a selected model never trained on: the holdout, and every value after its training
    windows. Its forecasts of them give the holdout scores and the interval calibration."""

    values: FloatArray  # the whole series
    window_size: int
    test_size: int  # the holdout: the last test_size values
    first_unseen: int  # series position after the selected model's training windows

    def holdout(
        self, forecast_windows: WindowForecast, season_length: int | None
    ) -> HoldoutEvaluation | None:
        """The tutorial's test: the holdout forecast from the last training window, scored."""
        if self.test_size == 0:
            return None
        train_part = self.values[: len(self.values) - self.test_size]
        predicted = forecast_windows(train_part[None, -self.window_size :], self.test_size)[0]
        actual = self.values[-self.test_size :]
        return evaluate_holdout(train_part, actual, predicted, season_length)

    def calibration(
        self, forecast_windows: WindowForecast, season_length: int | None
    ) -> ConformalResiduals | None:
        """Conformal errors from rolling origins in the unseen part (intervals.py)."""
        horizon = max(self.test_size, season_length or 1, self.window_size)
        return calibrate_residuals(
            self.values,
            self.window_size,
            first_unseen=self.first_unseen,
            horizon_cap=min(MAX_CALIBRATION_HORIZON, horizon),
            forecast_windows=forecast_windows,
        )


def _window_forecaster(
    model_config: ModelConfig, scaler: Scaler, state: StateDict
) -> WindowForecast:
    """(B, w) windows in series units -> (B, horizon) forecasts by the model with `state`."""
    weights = InferenceWeights.from_state_dict(model_config, state)

    def forecast_windows(windows: FloatArray, horizon: int) -> FloatArray:
        network = forecast_pipelined(
            weights, model_inputs(model_config, scaler, windows), horizon
        )  # (B, horizon)
        return model_outputs(model_config, scaler, windows, network)

    return forecast_windows
