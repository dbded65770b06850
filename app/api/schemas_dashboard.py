"""Bodies of the chart endpoints: the data behind the dashboard's picture and plot.svg."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HoldoutOut(BaseModel):
    start: int = Field(description="Index in `series` of the first held-out value.")
    forecast: list[float | None] = Field(
        description="The model's forecast of the held-out values, made from before them."
    )
    actual: list[float] = Field(description="The held-out values (the end of `series`).")


class BandOut(BaseModel):
    level: float = Field(description="Percent of future values expected inside.", examples=[80])
    lower: list[float | None]
    upper: list[float | None]


class SeriesOut(BaseModel):
    """The tutorial's picture as data: the series, the holdout test, and a future forecast."""

    model: str
    version: int
    series: list[float] = Field(description="The series the model was trained on, oldest first.")
    holdout: HoldoutOut | None = Field(description="Null when the model was trained without one.")
    horizon: int
    forecast: list[float | None] = Field(
        description="`horizon` values after the series (as POST /forecast returns them)."
    )
    bands: list[BandOut] = Field(
        description="80% and 95% prediction bands of `forecast`, when the model has them."
    )
