"""An invertible affine scaler fitted on the training part of a series only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.forecasting.finite import clip_to_finite
from app.forecasting.windowing import FloatArray


@dataclass(frozen=True, slots=True)
class Scaler:
    """Maps the fitted range onto [-1, 1]: scaled = (x - center) / scale.

    Min-max rather than mean/std because it is computed without overflow for any finite input
    (halves are taken before subtracting, so 1e308 and -1e308 stay finite), and it keeps the
    tutorial's sine (already in [-1, 1]) essentially unscaled.
    """

    center: float
    scale: float

    @classmethod
    def fit(cls, series: FloatArray) -> Scaler:
        if len(series) == 0:
            return cls(center=0.0, scale=1.0)
        low, high = float(np.min(series)), float(np.max(series))
        if low == high:
            # A constant series has no range: scale by its magnitude (or 1), never divide by zero.
            return cls(center=low, scale=abs(low) if low != 0 else 1.0)
        center = low / 2 + high / 2
        half_range = high / 2 - low / 2
        if not half_range > 0:  # a range below the smallest subnormal after halving
            half_range = 1.0
        return cls(center=center, scale=half_range)

    def transform(self, values: FloatArray) -> FloatArray:
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (np.asarray(values, dtype=np.float64) - self.center) / self.scale
        return clip_to_finite(scaled)

    def inverse_transform(self, values: FloatArray) -> FloatArray:
        # Predictions may leave the fitted range; near the float64 limit the product could
        # overflow, so it is clipped to the largest finite value instead of becoming inf.
        with np.errstate(over="ignore", invalid="ignore"):
            restored = np.asarray(values, dtype=np.float64) * self.scale + self.center
        return clip_to_finite(restored)

    def to_dict(self) -> dict[str, Any]:
        return {"center": self.center, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        center, scale = float(data["center"]), float(data["scale"])
        if not (np.isfinite(center) and np.isfinite(scale) and scale > 0):
            raise ValueError(f"scaler needs finite center and positive scale, got {data}")
        return cls(center=center, scale=scale)
