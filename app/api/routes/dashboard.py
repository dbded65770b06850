"""The dashboard page at /, its static files, and the forecast chart as JSON and as SVG."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.api.deps import NamePath, ReadAccess, ServiceDep
from app.api.responses import READ_ERRORS
from app.api.schemas_dashboard import SeriesOut
from app.plot import Band, ChartData, forecast_svg

STATIC = FilePath(__file__).resolve().parents[2] / "static"
# The page loads nothing from elsewhere: scripts, styles and data all come from this server.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(tags=["dashboard"])
HorizonQuery = Annotated[
    int,
    Query(
        ge=0, le=1_000_000, description="Future steps to forecast (at most FORECAST_MAX_HORIZON)."
    ),
]


def mount_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


@cache
def _page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


@router.get("/", include_in_schema=False)
async def dashboard() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": PAGE_POLICY})


@router.get(
    "/models/{name}/series",
    response_model=SeriesOut,
    dependencies=[ReadAccess],
    responses=READ_ERRORS,
)
async def model_series(name: NamePath, service: ServiceDep, horizon: HorizonQuery = 0) -> SeriesOut:
    """The data of the dashboard's chart: the training series, the holdout forecast against the
    actual values, and (with `horizon`) a future forecast with 80/95% bands when available."""
    return SeriesOut.of(service.predictions.chart(name, horizon))


SVG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The chart as a standalone SVG image.",
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/models/{name}/plot.svg",
    response_class=Response,
    dependencies=[ReadAccess],
    responses={**SVG_RESPONSE, **READ_ERRORS},
)
async def model_plot(
    name: NamePath,
    service: ServiceDep,
    horizon: HorizonQuery = 40,
    width: Annotated[int, Query(ge=200, le=4000, description="Pixels.")] = 960,
    height: Annotated[int, Query(ge=150, le=3000, description="Pixels.")] = 400,
    history: Annotated[
        int | None,
        Query(ge=1, le=1_000_000, description="Show only the last `history` values of the series."),
    ] = None,
) -> Response:
    """The forecast chart as SVG, for people without a browser: the series, the holdout
    forecast against the actual values, and a `horizon`-step forecast with its bands."""
    data = SeriesOut.of(service.predictions.chart(name, horizon))
    shown = len(data.series) if history is None else min(history, len(data.series))
    holdout = _nan(data.holdout.forecast)[-shown:] if data.holdout else []
    chart = ChartData(
        title=f"{data.model} v{data.version}",
        series=data.series[len(data.series) - shown :],
        holdout_forecast=holdout,
        future=_nan(data.forecast),
        bands=[Band(b.level, _nan(b.lower), _nan(b.upper)) for b in data.bands],
        first_step=len(data.series) - shown,
    )
    svg = forecast_svg(chart, width=width, height=height)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _nan(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]
