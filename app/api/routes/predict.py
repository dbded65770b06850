from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ReadAccess, ServiceDep
from app.api.responses import BODY_READ_ERRORS
from app.api.schemas import (
    ForecastRequest,
    ForecastResponse,
    PredictNextRequest,
    PredictNextResponse,
)
from app.api.schemas_parts import forecast_extras_fields
from app.quality_rules import TimeInput

router = APIRouter(tags=["predict"], dependencies=[ReadAccess], responses=BODY_READ_ERRORS)


@router.post("/predict-next", response_model=PredictNextResponse)
async def predict_next(body: PredictNextRequest, service: ServiceDep) -> PredictNextResponse:
    """The value after one window of exactly the model's window_size values."""
    result = service.predict_next(body.model, body.window)
    return PredictNextResponse(
        model=result.snapshot.name,
        version=result.snapshot.version,
        prediction=float(result.values[0]),
    )


@router.post("/forecast", response_model=ForecastResponse)
async def forecast(body: ForecastRequest, service: ServiceDep) -> ForecastResponse:
    """`horizon` values ahead: step k is the model applied to the last window_size values of
    (series + forecast[:k]), exactly as repeated /predict-next calls would give. With `level`,
    split-conformal intervals; with timestamps (or start + freq), the forecast's timestamps."""
    result = service.forecast(
        body.model,
        body.horizon,
        body.series,
        levels=body.level,
        time=TimeInput(body.timestamps, body.start, body.freq),
    )
    return ForecastResponse(
        model=result.snapshot.name,
        version=result.snapshot.version,
        horizon=body.horizon,
        forecast=result.values.tolist(),
        **forecast_extras_fields(result.extras),
    )
