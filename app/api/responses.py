"""The documented error responses of each kind of route, for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from app.api.schemas import ErrorResponse


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Malformed JSON body (not UTF-8, not parseable, or nested too deeply).",
        401: "Missing or wrong API key (only when FORECAST_API_KEY is set).",
        404: "No model with that name.",
        409: "A training of this model is already running (or: deleting the default model).",
        413: "Body larger than FORECAST_MAX_BODY_BYTES.",
        422: "Invalid input: the message says what was expected and what arrived.",
        429: "Too many trainings running at once.",
        500: "Training failed: the message names the failure; the old version still serves.",
        503: "Not ready: the default model is still being trained at startup.",
        507: "The checkpoint could not be written; the old version still serves.",
    }
    return {
        status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses
    }


READ_ERRORS = errors(401, 404, 422, 503)
BODY_READ_ERRORS = errors(400, 401, 404, 413, 422, 503)
TRAIN_ERRORS = errors(400, 401, 409, 413, 422, 429, 500, 507)
