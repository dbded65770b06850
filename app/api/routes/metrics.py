from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.api.deps import ReadAccess, ServiceDep
from app.api.responses import errors

router = APIRouter(tags=["health"])

EXAMPLE = """\
# HELP forecast_http_requests_total HTTP requests answered, by method, route and status.
# TYPE forecast_http_requests_total counter
forecast_http_requests_total{method="POST",route="/predict-next",status="200"} 1042.0
"""


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[ReadAccess],
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}, "example": EXAMPLE}},
        },
        **errors(401),
    },
)
async def metrics(service: ServiceDep) -> Response:
    """Request, training and served-version metrics in Prometheus' text format."""
    body, content_type = service.metrics.render()
    return Response(content=body, media_type=content_type)
