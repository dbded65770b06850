"""What the service trains and backtests, independent of the HTTP bodies that asked for it."""

from __future__ import annotations

from dataclasses import dataclass

from app.forecasting import ModelConfig
from app.forecasting.metadata import Choices
from app.forecasting.promotion import PromotePolicy
from app.forecasting.timestamps import TimeIndex
from app.forecasting.windowing import FloatArray


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    """Overrides of the planned training; None: the planned default (TrainingConfig)."""

    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """A training with everything `auto` resolved (choices.py)."""

    name: str
    series: FloatArray
    model_config: ModelConfig
    test_size: int
    season_length: int | None
    options: TrainingOptions
    # Internal trainings (the default model at startup) keep "always"; requests resolve it.
    promote: PromotePolicy = "always"
    choices: Choices | None = None  # what `auto` chose and why, kept in the metadata
    time_index: TimeIndex | None = None


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """A backtest: the training to replay, and the windows to replay it on."""

    training: TrainingSpec
    n_windows: int
    horizon: int
    step: int
    refit: bool
