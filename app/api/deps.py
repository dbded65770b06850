"""Typed dependencies and parameters the routes declare, and the app's one service.

The dependencies are `async def` although they do no I/O: FastAPI runs a plain `def`
dependency in its thread pool, a thread hop per dependency per request (measured: most of the
difference between /healthz and /predict-next besides the model itself).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.applications import Starlette

from app.errors import UnauthorizedError
from app.serving import ForecastService
from app.settings import Settings
from app.store import MODEL_NAME_PATTERN


def attach_service(app: Starlette, service: ForecastService) -> None:
    """Make `service` the one the app's routes depend on (create_app does it once)."""
    app.state.service = service


def service_of(app: object) -> ForecastService:
    """The service `attach_service` gave `app` (routes, and tests holding an app)."""
    service = app.state.service if isinstance(app, Starlette) else None
    if not isinstance(service, ForecastService):
        raise TypeError(f"{app!r} is not an app made by create_app")
    return service


async def get_service(request: Request) -> ForecastService:
    return service_of(request.app)


ServiceDep = Annotated[ForecastService, Depends(get_service)]
NamePath = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, examples=["default"])]

_bearer = HTTPBearer(
    auto_error=False,
    description="Set when the server has FORECAST_API_KEY: `Authorization: Bearer <key>`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check_key(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials is not None else b""
    # compare_digest takes the same time whatever the first differing byte is.
    if not secrets.compare_digest(given, expected):
        raise UnauthorizedError(
            "this endpoint needs the API key: expected header 'Authorization: Bearer <key>', "
            + ("got a different key" if credentials is not None else "got no bearer token")
        )


async def require_write_key(service: ServiceDep, credentials: Credentials) -> None:
    """Training and deleting need the key whenever FORECAST_API_KEY is set."""
    _check_key(service.settings, credentials)


async def require_read_key(service: ServiceDep, credentials: Credentials) -> None:
    """Reading needs the key only when FORECAST_API_KEY_READS is true."""
    if service.settings.api_key_reads:
        _check_key(service.settings, credentials)


WriteAccess = Depends(require_write_key)
ReadAccess = Depends(require_read_key)


# The hot reading routes declare the bearer scheme this way instead of through `ReadAccess`.
BEARER_SECURITY: dict[str, object] = {"security": [{"HTTPBearer": []}]}


async def reading_service(request: Request) -> ForecastService:
    """The service for /predict-next and /forecast, checked like `ReadAccess`, called directly.

    These are the hot paths, and FastAPI's resolution of `ReadAccess` + `ServiceDep` (four
    dependencies) cost more per request than the model itself (~80 µs, py-spy on /predict-next;
    bench/load.py). The check is the same: the key only when FORECAST_API_KEY_READS is true,
    read by the same HTTPBearer.
    """
    service = service_of(request.app)
    if service.settings.api_key_reads:
        _check_key(service.settings, await _bearer(request))
    return service
