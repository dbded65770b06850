"""Request -> spec: what a request leaves to the service (`auto`, the time index, the promotion
policy), resolved.

`auto` window size, season length and differencing come from the autocorrelation and a
least-squares line of the training part (forecasting/auto.py): CPU work that callers run off
the event loop. The requests are read through protocols, so this module knows no HTTP schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np

from app.errors import InvalidInputError
from app.forecasting import CellType, InvalidSeriesError, ModelConfig
from app.forecasting.auto import (
    AutoChoice,
    choose_difference,
    choose_season_length,
    choose_window_size,
)
from app.forecasting.backtest import window_origins
from app.forecasting.metadata import Choices
from app.forecasting.promotion import PromotePolicy
from app.forecasting.timestamps import TimeIndex, resolve_time_index
from app.forecasting.windowing import FloatArray
from app.serving.default_model import DEFAULT_MODEL, TUTORIAL
from app.serving.specs import BacktestSpec, TrainingOptions, TrainingSpec

Auto = Literal["auto"]


class TrainingInput(Protocol):
    """What a training request carries (the API's TrainRequest)."""

    model: str
    series: list[float]
    window_size: int | Auto
    hidden_size: int
    num_layers: int
    cell: CellType
    difference: bool | Auto
    test_size: int
    season_length: int | Auto | None
    epochs: int | None
    learning_rate: float | None
    batch_size: int | None
    seed: int | None
    promote: PromotePolicy | None
    timestamps: list[str] | None
    start: str | None
    freq: str | None


class BacktestInput(TrainingInput, Protocol):
    """What a backtest request carries (the API's BacktestRequest)."""

    n_windows: int
    horizon: int
    step: int | None
    refit: bool


@dataclass(frozen=True, slots=True)
class TimeInput:
    """Timestamps as a request gave them: explicit, or start + freq, or nothing."""

    timestamps: Sequence[str] | None = None
    start: str | None = None
    freq: str | None = None

    def resolve(self, length: int) -> TimeIndex | None:
        try:
            return resolve_time_index(
                length, timestamps=self.timestamps, start=self.start, freq=self.freq
            )
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error


def training_spec(request: TrainingInput) -> TrainingSpec:
    """The training `request` asks for, `auto` resolved from its training part (never the
    holdout); the promotion policy defaults to if_better with a holdout, always without."""
    promote, test_size = request.promote, request.test_size
    if promote == "if_better" and test_size == 0:
        raise InvalidInputError(
            "promote 'if_better' compares holdout scores and needs test_size > 0; got test_size 0 "
            "(send promote 'always', or a test_size)"
        )
    return _spec(request, test_size, promote or ("if_better" if test_size > 0 else "always"))


def backtest_spec(request: BacktestInput) -> BacktestSpec:
    """The backtest `request` asks for; `auto` sees only the values before the first origin."""
    step = request.step or request.horizon
    length = len(request.series)
    first_origin = window_origins(length, request.n_windows, request.horizon, step)[0]
    held_out = min(length, max(0, length - first_origin))
    # Nothing is kept: every window is a holdout, and nothing is promoted.
    training = replace(_spec(request, held_out, "always"), test_size=0)
    return BacktestSpec(training, request.n_windows, request.horizon, step, request.refit)


def _spec(request: TrainingInput, held_out: int, promote: PromotePolicy) -> TrainingSpec:
    """The spec with `auto` resolved from the values before the last `held_out` ones."""
    time_index = TimeInput(request.timestamps, request.start, request.freq).resolve(
        len(request.series)
    )
    values = np.asarray(request.series, dtype=np.float64)
    train = values[: max(len(values) - held_out, min(len(values), 2))]
    choices = _choices(request, train, tutorial=request.model == DEFAULT_MODEL)
    assert choices.window_size.value is not None  # window choices are never None
    config = ModelConfig(
        window_size=choices.window_size.value,
        hidden_size=request.hidden_size,
        num_layers=request.num_layers,
        cell=request.cell,
        difference=bool(choices.difference and choices.difference.value),
    )
    options = TrainingOptions(
        request.epochs, request.learning_rate, request.batch_size, request.seed
    )
    return TrainingSpec(
        name=request.model,
        series=values,
        model_config=config,
        test_size=request.test_size,
        season_length=choices.season_length.value,
        options=options,
        promote=promote,
        choices=choices,
        time_index=time_index,
    )


def _choices(request: TrainingInput, train: FloatArray, *, tutorial: bool) -> Choices:
    """With `tutorial` (the built-in default model), `auto` keeps the tutorial's window of 40
    and no differencing, whatever the series."""
    season_length, window_size, difference = (
        request.season_length,
        request.window_size,
        request.difference,
    )
    if season_length is None or season_length == "auto":
        season = choose_season_length(train)
    else:
        season = AutoChoice(season_length, "given", "given in the request")
    if window_size != "auto":
        window = AutoChoice(window_size, "given", "given in the request")
    elif tutorial:
        window = AutoChoice(TUTORIAL.window_size, "auto", "the built-in default model keeps it")
    else:
        window = choose_window_size(train, season.value)
    if difference != "auto":
        differencing = AutoChoice(int(difference), "given", "given in the request")
    elif tutorial:
        differencing = AutoChoice(0, "auto", "the built-in default model keeps it")
    else:
        differencing = choose_difference(train)
    return Choices(window, season, differencing)
