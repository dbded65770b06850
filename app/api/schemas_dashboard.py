"""Bodies of the chart endpoints: the data behind the dashboard's picture and plot.svg."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.forecasting.finite import finite_or_none
from app.serving.predictions import Chart


def _finite(values: list[float]) -> list[float | None]:
    return [finite_or_none(v) for v in values]


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

    @classmethod
    def of(cls, chart: Chart) -> SeriesOut:
        forecaster = chart.snapshot.forecaster
        series = forecaster.series.tolist()
        evaluation = forecaster.evaluation
        holdout = None
        if evaluation is not None and evaluation.test_size > 0:
            holdout = HoldoutOut(
                start=len(series) - evaluation.test_size,
                forecast=_finite(list(evaluation.forecast)),
                actual=list(evaluation.actual),
            )
        bands = [
            BandOut(
                level=band.level,
                lower=_finite(band.lower.tolist()),
                upper=_finite(band.upper.tolist()),
            )
            for band in chart.bands
        ]
        return cls(
            model=chart.snapshot.name,
            version=chart.snapshot.version,
            series=series,
            holdout=holdout,
            horizon=0 if chart.forecast is None else len(chart.forecast),
            forecast=[] if chart.forecast is None else _finite(chart.forecast.tolist()),
            bands=bands,
        )
