"""Holdout metrics, the naive baselines they are compared with, the autocorrelation and
season-length inference."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.forecasting.finite import finite_or_none
from app.forecasting.windowing import FloatArray


def mse(actual: FloatArray, predicted: FloatArray) -> float:
    with np.errstate(over="ignore"):
        return float(np.mean((actual - predicted) ** 2))


def mae(actual: FloatArray, predicted: FloatArray) -> float:
    with np.errstate(over="ignore"):
        return float(np.mean(np.abs(actual - predicted)))


def smape(actual: FloatArray, predicted: FloatArray) -> float:
    """Symmetric MAPE in percent (0..200); points where both are zero count as 0."""
    denominator = np.abs(actual) + np.abs(predicted)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(denominator > 0, 2 * np.abs(actual - predicted) / denominator, 0.0)
    return float(100 * np.mean(ratio))


def naive_forecast(train: FloatArray, horizon: int) -> FloatArray:
    """The last training value repeated."""
    return np.full(horizon, train[-1], dtype=np.float64)


def seasonal_naive_forecast(train: FloatArray, horizon: int, season_length: int) -> FloatArray:
    """The last full season of the training part repeated."""
    last_season = train[-season_length:]
    return np.resize(last_season, horizon).astype(np.float64)


def mase_scale(train: FloatArray, season_length: int) -> float | None:
    """In-sample MAE of the (seasonal) naive one-step forecast, MASE's denominator."""
    if len(train) <= season_length:
        return None
    with np.errstate(over="ignore"):
        scale = float(np.mean(np.abs(train[season_length:] - train[:-season_length])))
    return scale if scale > 0 and math.isfinite(scale) else None


def autocorrelation(series: FloatArray, max_lag: int) -> FloatArray | None:
    """(max_lag + 1,) sample autocorrelations (acf[0] == 1), None for a constant series."""
    centred = series - np.mean(series)
    with np.errstate(over="ignore", invalid="ignore"):
        variance = float(np.dot(centred, centred))
    if not (variance > 0 and math.isfinite(variance)):
        return None
    # Via the FFT: O(n log n) instead of O(n * max_lag).
    size = 1 << (2 * len(series) - 1).bit_length()
    spectrum = np.fft.rfft(centred / math.sqrt(variance), size)
    acf: FloatArray = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    return acf


def infer_season_length(series: FloatArray, *, max_lag: int | None = None) -> int | None:
    """The first autocorrelation peak that is clearly significant, or None.

    A lag qualifies when it is a local maximum of the ACF above both 0.3 and the 95% white-noise
    band (2 / sqrt(n)), within lags 2..n/2. Trends give a monotonically decaying ACF and no peak.
    """
    n = len(series)
    limit = min(n // 2, max_lag if max_lag is not None else n // 2)
    if limit < 3:
        return None
    acf = autocorrelation(series, limit + 1)
    if acf is None:
        return None
    threshold = max(0.3, 2 / math.sqrt(n))
    for lag in range(2, limit + 1):
        if acf[lag] > threshold and acf[lag] >= acf[lag - 1] and acf[lag] >= acf[lag + 1]:
            return lag
    return None


@dataclass(frozen=True, slots=True)
class HoldoutEvaluation:
    """The tutorial's test: forecast the last `test_size` points from the last training window."""

    test_size: int
    test_mse: float | None
    test_mae: float | None
    test_rmse: float | None
    test_smape: float | None
    naive_mse: float | None
    naive_mae: float | None
    seasonal_naive_mse: float | None
    seasonal_naive_mae: float | None
    season_length: int | None
    mase: float | None
    naive_mase: float | None
    seasonal_naive_mase: float | None
    forecast: tuple[float, ...]
    actual: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["forecast"], data["actual"] = list(self.forecast), list(self.actual)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HoldoutEvaluation:
        values = dict(data)
        values["forecast"] = tuple(float(v) for v in values["forecast"])
        values["actual"] = tuple(float(v) for v in values["actual"])
        return cls(**values)


def evaluate_holdout(
    train: FloatArray, actual: FloatArray, predicted: FloatArray, season_length: int | None
) -> HoldoutEvaluation:
    """Scores of the model's holdout forecast next to the naive and seasonal naive baselines."""
    horizon = len(actual)
    naive = naive_forecast(train, horizon)
    seasonal = (
        seasonal_naive_forecast(train, horizon, season_length)
        if season_length is not None and season_length <= len(train)
        else None
    )
    # MASE is scaled by the in-sample seasonal naive error (plain naive without a season).
    scale = mase_scale(train, season_length or 1)

    def scaled(forecast: FloatArray | None) -> float | None:
        if forecast is None or scale is None:
            return None
        return finite_or_none(mae(actual, forecast) / scale)

    model_mse = mse(actual, predicted)
    return HoldoutEvaluation(
        test_size=horizon,
        test_mse=finite_or_none(model_mse),
        test_mae=finite_or_none(mae(actual, predicted)),
        test_rmse=finite_or_none(math.sqrt(model_mse)) if math.isfinite(model_mse) else None,
        test_smape=finite_or_none(smape(actual, predicted)),
        naive_mse=finite_or_none(mse(actual, naive)),
        naive_mae=finite_or_none(mae(actual, naive)),
        seasonal_naive_mse=finite_or_none(mse(actual, seasonal)) if seasonal is not None else None,
        seasonal_naive_mae=finite_or_none(mae(actual, seasonal)) if seasonal is not None else None,
        season_length=season_length if seasonal is not None else None,
        mase=scaled(predicted),
        naive_mase=scaled(naive),
        seasonal_naive_mase=scaled(seasonal),
        forecast=tuple(float(v) for v in predicted),
        actual=tuple(float(v) for v in actual),
    )
