"""`auto` choices of season length and window size from a series' autocorrelation.

Season length: the first clearly significant autocorrelation peak (evaluation.infer_season_length:
a local maximum above 0.3 and the 95% white-noise band) of the training part minus its
least-squares line, at lags 2..n/3 so that at least three seasons are seen. A trend hides seasons
(the ACF of a trending series decays without peaks, and a linear trend shifts the peaks left), so
the line is removed first, and when that shows no peak, the first differences are tried. No peak
means no season.

Window size, within WINDOW_BOUNDS = (8, 128):
- with a season s: the smallest multiple of s that is at least 8 (a window sees whole seasons);
- without one: the series' memory, the first lag whose autocorrelation falls inside the
  white-noise band (a persistent series with no such lag gets the upper bound);
- then at most a quarter of the training part, so that there are windows to learn from.

Differencing (ModelConfig.difference): when a straight line explains at least TREND_R2 = 0.8 of
the training part's variance. A network reading values scaled to their training range cannot
follow a trend past that range (co2: MASE 2.3-3.7 on levels, 0.15 on differences, over three
seeds); on series without a trend, differences only add noise (sunspots, elnino: worse).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np

from app.forecasting.evaluation import autocorrelation, infer_season_length
from app.forecasting.windowing import FloatArray

WINDOW_BOUNDS = (8, 128)
TREND_R2 = 0.8


ChoiceSource = Literal["given", "auto"]


@dataclass(frozen=True, slots=True)
class AutoChoice:
    """A chosen value and, in words, why."""

    value: int | None
    source: ChoiceSource  # given in the request, or chosen by the rules here
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AutoChoice:
        value, source = data["value"], data["source"]
        if source not in get_args(ChoiceSource):
            raise ValueError(f"unknown choice source {source!r}")
        if value is not None and not isinstance(value, int):
            raise TypeError(f"a choice's value must be an integer or null; got {value!r}")
        return cls(value, source, str(data["reason"]))


def choose_season_length(train: FloatArray) -> AutoChoice:
    """The season of the training part, by the rule in the module docstring."""
    max_lag = len(train) // 3
    season = infer_season_length(_detrended(train), max_lag=max_lag)
    if season is not None:
        return AutoChoice(season, "auto", f"autocorrelation peak at lag {season}")
    if len(train) > 3:
        season = infer_season_length(np.diff(train), max_lag=max_lag)
        if season is not None:
            return AutoChoice(
                season, "auto", f"autocorrelation peak at lag {season} of the first differences"
            )
    return AutoChoice(None, "auto", "no significant autocorrelation peak: no season")


def choose_difference(train: FloatArray) -> AutoChoice:
    """Difference when a linear trend explains at least TREND_R2 of the variance."""
    residual = _detrended(train)
    with np.errstate(over="ignore", invalid="ignore"):
        total, left = float(np.var(train)), float(np.var(residual))
    if len(train) < 3 or not (total > 0 and math.isfinite(total) and math.isfinite(left)):
        return AutoChoice(0, "auto", "too short or constant: no trend to remove")
    explained = 1 - left / total
    verdict = ">=" if explained >= TREND_R2 else "<"
    return AutoChoice(
        int(explained >= TREND_R2),
        "auto",
        f"a linear trend explains {100 * explained:.0f}% of the variance ({verdict} "
        f"{100 * TREND_R2:.0f}%)",
    )


def _detrended(series: FloatArray) -> FloatArray:
    """The series minus its least-squares line (a linear trend shifts the ACF's peaks)."""
    if len(series) < 3:
        return series
    t = np.arange(len(series), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        slope, intercept = np.polyfit(t, series, 1)
        residual: FloatArray = series - (slope * t + intercept)
    return residual if np.all(np.isfinite(residual)) else series


def choose_window_size(train: FloatArray, season_length: int | None) -> AutoChoice:
    """The window size for the training part, by the rule in the module docstring."""
    low, high = WINDOW_BOUNDS
    if season_length is not None:
        window = season_length * math.ceil(low / season_length)
        reason = f"{window // season_length} season(s) of {season_length}"
    else:
        acf = autocorrelation(train, min(high, max(1, len(train) // 2)))
        band = 2 / math.sqrt(max(len(train), 1))
        inside = np.flatnonzero(np.abs(acf[1:]) < band) if acf is not None else np.array([0])
        if len(inside) > 0:
            memory = int(inside[0]) + 1
            reason = f"autocorrelation inside the noise band from lag {memory}"
        else:
            memory = high
            reason = f"autocorrelation significant up to the largest window {high}"
        window = memory
    if not low <= window <= high:
        window = min(max(window, low), high)
        reason += f", bounded to {low}..{high}"
    limit = max(1, len(train) // 4)
    if window > limit:
        window = limit
        reason += f", at most a quarter of the {len(train)} training values"
    return AutoChoice(window, "auto", reason)
