"""Forecast-quality pieces of the request and response bodies: interval levels, timestamps,
`auto` choices and the promotion decision. schemas.py composes them into its bodies."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.forecasting.auto import AutoChoice
from app.forecasting.intervals import PredictionInterval
from app.forecasting.metadata import Choices, Promotion
from app.forecasting.timestamps import TimeIndex
from app.serving.predictions import EXTRAPOLATION_RULE, Calibration

HARD_MAX_TIMESTAMPS = 1_000_000

Level = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, lt=100)]
Levels = Annotated[
    list[Level] | None,
    Field(
        min_length=1,
        max_length=10,
        description="Interval levels in percent (e.g. [80, 95]); each adds `lower` and `upper` "
        "lists beside `forecast`.",
        examples=[[80, 95]],
    ),
]
Timestamp = Annotated[str, Field(min_length=4, max_length=64, examples=["2024-01-31"])]
Timestamps = Annotated[
    list[Timestamp] | None,
    Field(
        min_length=1,
        max_length=HARD_MAX_TIMESTAMPS,
        description="ISO-8601 time of each value of `series`, strictly increasing and evenly "
        "spaced (one per value). Alternative to `start` + `freq`.",
    ),
]
Start = Annotated[
    Timestamp | None,
    Field(description="ISO-8601 time of the first value of `series`; needs `freq`."),
]
Freq = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=16,
        description="pandas-style spacing: us, ms, s, min, h, D, W, MS, ME, QS, QE, YS, YE with "
        "an optional multiple (`15min`); inferred from `timestamps` when omitted.",
        examples=["D"],
    ),
]
AutoInt = Literal["auto"]
Difference = Annotated[
    bool | AutoInt,
    Field(
        description="true: the model reads and forecasts first differences (follows trends "
        "past the training range); auto: when a linear trend explains >= 80% of the training "
        "part's variance (the built-in default model never).",
    ),
]
PromoteField = Annotated[
    Literal["if_better", "always"] | None,
    Field(
        description="if_better (the default with test_size > 0): serve the new version only if "
        "its holdout beats the naive and seasonal naive baselines and is no worse (MASE) than the "
        "serving version; else keep it as a candidate. always (the default with test_size 0): "
        "serve it.",
    ),
]


class IntervalOut(BaseModel):
    level: float
    lower: list[float]
    upper: list[float]

    @classmethod
    def of(cls, interval: PredictionInterval) -> IntervalOut:
        return cls(
            level=interval.level, lower=interval.lower.tolist(), upper=interval.upper.tolist()
        )


class CalibrationOut(BaseModel):
    """How the intervals were obtained (split-conformal, per horizon step)."""

    method: Literal["split_conformal"] = "split_conformal"
    calibration_horizon: int = Field(description="Steps whose errors were measured.")
    calibration_origins: int = Field(description="Rolling origins the errors come from.")
    min_errors_per_step: int = Field(description="Fewest errors behind any calibrated step.")
    extrapolated_steps: int = Field(
        description="Steps past calibration_horizon: widened by `extrapolation`, less certain."
    )
    extrapolation: str = EXTRAPOLATION_RULE

    @classmethod
    def of(cls, calibration: Calibration | None) -> CalibrationOut | None:
        return None if calibration is None else cls.model_validate(asdict(calibration))


class ChoiceOut(BaseModel):
    value: int | None
    source: Literal["given", "auto"]
    reason: str

    @classmethod
    def of(cls, choice: AutoChoice) -> ChoiceOut:
        return cls.model_validate(asdict(choice))


class ChoicesOut(BaseModel):
    window_size: ChoiceOut
    season_length: ChoiceOut
    difference: ChoiceOut | None = Field(None, description="value 1: the model reads differences.")

    @classmethod
    def of(cls, choices: Choices | None) -> ChoicesOut | None:
        if choices is None:
            return None
        difference = choices.difference
        return cls(
            window_size=ChoiceOut.of(choices.window_size),
            season_length=ChoiceOut.of(choices.season_length),
            difference=ChoiceOut.of(difference) if difference is not None else None,
        )


class TimeIndexOut(BaseModel):
    start: str
    freq: str
    length: int
    date_only: bool

    @classmethod
    def of(cls, index: TimeIndex | None) -> TimeIndexOut | None:
        return None if index is None else cls.model_validate(index.to_dict())


class PromotionOut(BaseModel):
    """The publish decision made when this version was trained."""

    promoted: bool
    policy: Literal["if_better", "always"]
    reason: str
    served_version: int | None = Field(description="The version served after the decision.")

    @classmethod
    def of(cls, promotion: Promotion | None) -> PromotionOut | None:
        return None if promotion is None else cls.model_validate(asdict(promotion))
