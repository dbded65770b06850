from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import BEARER_SECURITY, reading_service
from app.api.responses import BODY_READ_ERRORS
from app.api.routing import ValidatedJsonRoute
from app.api.schemas import (
    ForecastRequest,
    ForecastResponse,
    PredictNextRequest,
    PredictNextResponse,
)

# No router dependencies: see deps.reading_service.
router = APIRouter(tags=["predict"], responses=BODY_READ_ERRORS)


async def predict_next(body: PredictNextRequest, request: Request) -> Response:
    """The value after one window of exactly the model's window_size values."""
    service = await reading_service(request)
    result = service.predictions.predict_next(body.model, body.window)
    answer = PredictNextResponse(
        model=result.snapshot.name,
        version=result.snapshot.version,
        prediction=float(result.values[0]),
    )
    # Serialized here: FastAPI would re-validate the model just built, then serialize it
    # (~25 µs of a ~450 µs request, measured in-process).
    return Response(answer.model_dump_json(), media_type="application/json")


router.add_api_route(
    "/predict-next",
    predict_next,
    methods=["POST"],
    response_model=PredictNextResponse,
    openapi_extra=BEARER_SECURITY,
    route_class_override=ValidatedJsonRoute,  # valid bodies in one pydantic-core pass
)


async def forecast(body: ForecastRequest, request: Request) -> Response:
    """`horizon` values ahead: step k is the model applied to the last window_size values of
    (series + forecast[:k]), as repeated /predict-next calls would give (to float32 rounding).
    With `level`, split-conformal intervals; with timestamps (or start + freq), the forecast's
    timestamps."""
    service = await reading_service(request)
    answer = ForecastResponse.of(service.predictions.forecast(body))
    # Serialized here, as /predict-next: FastAPI would re-validate the model just built.
    return Response(answer.model_dump_json(), media_type="application/json")


router.add_api_route(
    "/forecast",
    forecast,
    methods=["POST"],
    response_model=ForecastResponse,
    openapi_extra=BEARER_SECURITY,
    route_class_override=ValidatedJsonRoute,  # valid bodies in one pydantic-core pass
)
