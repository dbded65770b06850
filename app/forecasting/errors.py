"""Errors raised by the forecasting core.

ForecastingError
 ├── InvalidSeriesError      a series or window the model cannot use (too short, non-finite)
 ├── CheckpointError         a checkpoint that is truncated, corrupted, incompatible or unsafe
 └── TrainingCancelledError  a training stopped on request before it finished
"""


class ForecastingError(Exception):
    """Base class of every error the forecasting core raises on purpose."""


class InvalidSeriesError(ForecastingError, ValueError):
    """The series or window cannot be used: the message says what was expected and what arrived."""


class CheckpointError(ForecastingError):
    """The checkpoint cannot be loaded safely; nothing from it was used."""


class TrainingCancelledError(ForecastingError):
    """Training was cancelled through its stop callback; no model was produced."""
