"""Typed dependencies the routes declare.

They are `async def` although they do no I/O: FastAPI runs a plain `def` dependency in its
thread pool, a thread hop per dependency per request (measured: most of the difference
between /healthz and /predict-next besides the model itself).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import UnauthorizedError
from app.jobs import JobRegistry
from app.quality import QualityService
from app.service import ForecastService
from app.settings import Settings


async def get_service(request: Request) -> ForecastService:
    service: ForecastService = request.app.state.service
    return service


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_jobs(request: Request) -> JobRegistry:
    jobs: JobRegistry = request.app.state.jobs
    return jobs


async def get_quality(request: Request) -> QualityService:
    """Backtests, versions and rollback: a thin view over the one ForecastService."""
    return QualityService(request.app.state.service)


ServiceDep = Annotated[ForecastService, Depends(get_service)]
QualityDep = Annotated[QualityService, Depends(get_quality)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

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


async def require_write_key(settings: SettingsDep, credentials: Credentials) -> None:
    """Training and deleting need the key whenever FORECAST_API_KEY is set."""
    _check_key(settings, credentials)


async def require_read_key(settings: SettingsDep, credentials: Credentials) -> None:
    """Reading needs the key only when FORECAST_API_KEY_READS is true."""
    if settings.api_key_reads:
        _check_key(settings, credentials)


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
    settings: Settings = request.app.state.settings
    if settings.api_key_reads:
        _check_key(settings, await _bearer(request))
    service: ForecastService = request.app.state.service
    return service
