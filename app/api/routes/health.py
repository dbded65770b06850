from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServiceDep
from app.api.errors import error_response
from app.api.schemas import ErrorResponse, HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """Liveness: 200 while the process serves."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": ErrorResponse, "description": "Default model not ready yet."}},
)
async def readyz(service: ServiceDep) -> HealthResponse | JSONResponse:
    """Readiness: 200 once the default model serves, 503 before."""
    if service.ready:
        return HealthResponse(status="ok")
    return error_response(503, "not_ready", "the default model is not ready yet")
