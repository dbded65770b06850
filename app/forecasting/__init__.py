"""The forecasting core: plain PyTorch and numpy, no web framework, no settings, no store.

from app.forecasting import fit
forecaster = fit(series, test_size=40)
forecaster.evaluation.test_mse, forecaster.forecast(horizon=100)
"""

from app.forecasting.checkpoint import load_checkpoint, save_checkpoint
from app.forecasting.config import CELL_TYPES, CellType, ModelConfig, TrainingConfig
from app.forecasting.errors import (
    CheckpointError,
    ForecastingError,
    InvalidSeriesError,
    TrainingCancelledError,
)
from app.forecasting.evaluation import HoldoutEvaluation, infer_season_length
from app.forecasting.forecaster import Forecaster, fit, minimum_series_length
from app.forecasting.scaling import Scaler
from app.forecasting.training import EpochProgress, TrainingInfo
from app.forecasting.windowing import make_windows

__all__ = [
    "CELL_TYPES",
    "CellType",
    "CheckpointError",
    "EpochProgress",
    "Forecaster",
    "ForecastingError",
    "HoldoutEvaluation",
    "InvalidSeriesError",
    "ModelConfig",
    "Scaler",
    "TrainingCancelledError",
    "TrainingConfig",
    "TrainingInfo",
    "fit",
    "infer_season_length",
    "load_checkpoint",
    "make_windows",
    "minimum_series_length",
    "save_checkpoint",
]
