"""Split-conformal prediction intervals from a model's own out-of-sample forecast errors.

At training time the model that was selected before the refit (it never trained on the last
part of the series: the validation windows and the holdout) forecasts `calibration_horizon` steps
from rolling origins inside that unseen part, all in one batched call. The errors form a table of
shape (n_origins, calibration_horizon); an origin near the end of the series has fewer observed
steps, and its missing entries are NaN.

For a level of `L` percent, the half-width at step h is the split-conformal quantile of the n_h
absolute errors measured at step h: the k-th smallest with k = ceil((n_h + 1) * L / 100). With
too few errors for that rank (k > n_h: 95% needs at least 19), the largest error is used, which
guarantees n_h / (n_h + 1) instead. Half-widths are then made non-decreasing with the step by
isotonic regression (pool-adjacent-violators, weighted by n_h): a recursive forecast's error does
not shrink as it runs further ahead, and unlike a running maximum the fit does not carry one
noisy step's quantile to every later step (on the noisy sine a running maximum covered 88% at
80% and 98.7% at 95%; the isotonic fit 83.2% and 97.0%; bench/coverage.py). Steps
beyond the calibration horizon H carry the last half-width grown as sqrt(h / H) (the spread of a
random walk) and are flagged as extrapolated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.forecasting.errors import InvalidSeriesError
from app.forecasting.finite import FLOAT_MAX, finite_or_none
from app.forecasting.windowing import FloatArray

MIN_ERRORS_PER_STEP = 20  # a finite 95% quantile needs at least 19
MAX_ORIGINS = 256
# Cost bound of the calibration forecast, in recurrent cell steps: a batched forecast of B
# origins costs about B * min(w, H) * (w + H) of them (engine.forecast_pipelined).
CELL_STEP_BUDGET = 300_000

WindowForecast = Callable[[FloatArray, int], FloatArray]  # (B, w) windows, H -> (B, H)


def isotonic_increasing(values: FloatArray, weights: FloatArray) -> FloatArray:
    """The non-decreasing sequence closest to `values` in weighted least squares (PAVA)."""
    means: list[float] = []
    totals: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(value)
        totals.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:  # pool adjacent violators
            mean, total, size = means.pop(), totals.pop(), sizes.pop()
            pooled = totals[-1] + total
            means[-1] = (means[-1] * totals[-1] + mean * total) / pooled
            totals[-1] = pooled
            sizes[-1] += size
    return np.repeat(np.array(means), sizes)


@dataclass(frozen=True, slots=True)
class PredictionInterval:
    level: float
    lower: FloatArray  # (horizon,)
    upper: FloatArray  # (horizon,)


@dataclass(frozen=True, slots=True)
class ConformalResiduals:
    """Out-of-sample errors (actual - forecast) by origin and step; NaN where not observed."""

    errors: FloatArray  # (n_origins, calibration_horizon)
    first_origin: int  # series position of the first forecast value of the first origin
    # |errors| sorted down each step's column, NaN last: a request's quantiles are then lookups.
    _scores: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.errors.ndim != 2 or self.errors.shape[1] < 1:
            raise ValueError(
                f"errors must be a (n_origins, horizon) table; got {self.errors.shape}"
            )
        if not np.all(np.isfinite(self.errors[:, 0])):
            raise ValueError("every origin must have an observed first step")
        if not np.all(np.isfinite(self.errors).any(axis=0)):
            raise ValueError("every step must have at least one observed error")
        self.errors.setflags(write=False)
        object.__setattr__(self, "_scores", np.sort(np.abs(self.errors), axis=0))  # (B, H)

    @property
    def calibration_horizon(self) -> int:
        return int(self.errors.shape[1])

    @property
    def n_origins(self) -> int:
        return int(self.errors.shape[0])

    def counts(self) -> FloatArray:
        """(calibration_horizon,) number of errors measured at each step."""
        counts: FloatArray = np.isfinite(self.errors).sum(axis=0).astype(np.float64)
        return counts

    def half_widths(self, level: float, horizon: int) -> FloatArray:
        """(horizon,) interval half-widths at `level` percent, by the rule in the module doc."""
        if not 0 < level < 100:
            raise InvalidSeriesError(f"level must be between 0 and 100 (exclusive); got {level}")
        counts = self.counts()  # (H,), every count >= 1
        # The split-conformal quantile of every step at once: the min(k, n)-th smallest score.
        ranks = np.minimum(np.ceil((counts + 1) * level / 100), counts).astype(np.int64)
        calibrated = self._scores[ranks - 1, np.arange(self.calibration_horizon)]  # (H,)
        calibrated = isotonic_increasing(calibrated, counts)
        if horizon <= self.calibration_horizon:
            widths: FloatArray = calibrated[:horizon]
            return widths
        last = self.calibration_horizon
        steps = np.arange(last + 1, horizon + 1, dtype=np.float64)
        extra = calibrated[-1] * np.sqrt(steps / last)  # (horizon - H,)
        return np.concatenate([calibrated, extra])

    def intervals(self, forecast: FloatArray, levels: Sequence[float]) -> list[PredictionInterval]:
        """One symmetric interval around `forecast` per level, in the order given."""
        result = []
        for level in levels:
            widths = self.half_widths(level, len(forecast))
            result.append(PredictionInterval(level, forecast - widths, forecast + widths))
        return result

    def extrapolated_steps(self, horizon: int) -> int:
        return max(0, horizon - self.calibration_horizon)

    def to_dict(self) -> dict[str, Any]:
        rows = [[finite_or_none(v) for v in row] for row in self.errors]
        return {"first_origin": self.first_origin, "errors": rows}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConformalResiduals:
        rows = data["errors"]
        if not isinstance(rows, list) or not rows:
            raise ValueError("intervals.errors must be a non-empty list of rows")
        table = np.array(
            [[math.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64
        )
        return cls(errors=table, first_origin=int(data["first_origin"]))


@dataclass(frozen=True, slots=True)
class CalibrationPlan:
    origins: tuple[int, ...]  # series positions of each origin's first forecast value
    horizon: int


def plan_calibration(
    length: int, window_size: int, first_unseen: int, horizon_cap: int
) -> CalibrationPlan | None:
    """Which origins and how many steps to calibrate on, or None without unseen values.

    `first_unseen` is the first series position the model never trained on. The horizon is
    `horizon_cap` unless that would leave fewer than MIN_ERRORS_PER_STEP errors at the last step;
    the origins are the most recent ones whose whole horizon is observed (if there are enough),
    else every unseen position; their number is bounded by MAX_ORIGINS and CELL_STEP_BUDGET.
    """
    first = max(first_unseen, window_size)
    unseen = length - first
    if unseen < 1 or horizon_cap < 1:
        return None
    if unseen >= MIN_ERRORS_PER_STEP:
        horizon = min(horizon_cap, unseen - MIN_ERRORS_PER_STEP + 1)
    else:
        horizon = min(horizon_cap, max(1, unseen // 2))
    per_origin = min(window_size, horizon) * (window_size + horizon)
    budget = max(MIN_ERRORS_PER_STEP, CELL_STEP_BUDGET // per_origin)
    count = min(MAX_ORIGINS, budget)
    complete = range(first, length - horizon + 1)  # origins with every step observed
    if len(complete) >= count:
        origins = tuple(complete[-count:])
    else:
        origins = tuple(range(first, length))[:count]
    return CalibrationPlan(origins=origins, horizon=horizon)


def calibrate_residuals(
    series: FloatArray,
    window_size: int,
    *,
    first_unseen: int,
    horizon_cap: int,
    forecast_windows: WindowForecast,
) -> ConformalResiduals | None:
    """Forecast from every planned origin in one batched call and tabulate the errors."""
    plan = plan_calibration(len(series), window_size, first_unseen, horizon_cap)
    if plan is None:
        return None
    starts = np.array(plan.origins)
    windows = np.lib.stride_tricks.sliding_window_view(series, window_size)[
        starts - window_size
    ]  # (B, w): the w values before each origin
    predicted = forecast_windows(np.ascontiguousarray(windows), plan.horizon)  # (B, H)
    targets = starts[:, None] + np.arange(plan.horizon)[None, :]  # (B, H) series positions
    observed = targets < len(series)
    actual = np.where(observed, series[np.minimum(targets, len(series) - 1)], np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        difference = np.clip(actual - predicted, -FLOAT_MAX, FLOAT_MAX)  # NaN stays NaN
    errors = np.where(observed, difference, np.nan)  # (B, H)
    return ConformalResiduals(errors=errors, first_origin=int(starts[0]))
