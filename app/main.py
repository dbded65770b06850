"""The FastAPI application: `create_app(settings)`, and `app` for `uvicorn app.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from app.api.docs import mount_offline_docs
from app.api.middleware import BodySizeLimitMiddleware, MetricsMiddleware, RequestLogMiddleware
from app.api.paths import path_templates
from app.api.routes import dashboard, health, jobs, metrics, models, predict, quality, train
from app.errors import ServiceError
from app.forecasting.kernel import warm_up as warm_up_kernel
from app.jobs import JobRegistry
from app.logs import configure_logging
from app.service import ForecastService
from app.settings import Settings
from app.store import ModelStore
from app.trainer import TrainingRunner

logger = logging.getLogger(__name__)

DESCRIPTION = """
Train LSTM (or GRU / RNN) forecasters on your time series and get forecasts back.

* `POST /train` learns a series, holds out its end and scores the forecast against naive baselines.
* `POST /predict-next` predicts the value after one window; `POST /forecast` runs the tutorial's
  autoregressive forecast for any horizon.
* The built-in `default` model is the tutorial's LSTM (window 40, hidden 50) trained on its sine.

Every error answers `{"error": code, "message": ...}`, the message saying what was expected
and what arrived.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without `settings`, they are read from the environment at startup."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings if settings is not None else Settings()
        configure_logging(resolved.log_level)
        # Serving runs one request at a time per event loop: one thread for inference is
        # fastest for this model size and leaves the other cores to training. numpy's BLAS
        # (the forecast engine's matmuls) would otherwise split batched forecasts over every
        # core and wait for busy ones: 2.5-4.9 s instead of 0.22-0.30 s for 64 series with a
        # training running (bench/blas_threads.py).
        torch.set_num_threads(1)
        threadpool_limits(limits=1, user_api="blas")
        store = ModelStore(resolved.model_store, keep_versions=resolved.keep_versions)
        runner = TrainingRunner(resolved.max_concurrent_trainings)
        service = ForecastService(resolved, store, runner)
        # Torch threads follow the CPU limit (cgroup quota) unless FORECAST_TORCH_THREADS is
        # set, shared among the trainings that may run at once.
        service.torch_threads = max(
            1, resolved.resolved_torch_threads() // resolved.max_concurrent_trainings
        )
        app.state.settings = resolved
        app.state.service = service
        app.state.jobs = JobRegistry(
            max_jobs=resolved.max_jobs,
            max_running=resolved.max_concurrent_trainings,
            retention_seconds=resolved.job_retention_seconds,
            max_finished=resolved.max_finished_jobs,
        )
        await asyncio.to_thread(store.load_all)
        startup = asyncio.create_task(_prepare_default(service))
        try:
            yield
        finally:
            # Unfinished jobs are stopped and marked failed; nothing half-trained is published.
            await app.state.jobs.shutdown()
            startup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await startup

    app = FastAPI(
        title="LSTM forecasting service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health.router)
    app.include_router(predict.router)  # the hot paths early: FastAPI matches routes in order
    app.include_router(train.router)
    app.include_router(models.router)
    app.include_router(quality.router)
    app.include_router(metrics.router)
    app.include_router(jobs.router)
    app.include_router(dashboard.router)
    dashboard.mount_dashboard(app)
    mount_offline_docs(app)
    _add_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(MetricsMiddleware)  # outside the size limit: counts 413s too
    app.add_middleware(RequestLogMiddleware)
    return app


async def _prepare_default(service: ForecastService) -> None:
    try:
        # Before the service reports ready, so no request waits for numba's compiler.
        seconds = await asyncio.to_thread(warm_up_kernel)
        logger.info("inference kernel ready", extra={"seconds": round(seconds, 3)})
        await service.ensure_default_model()
    except Exception:
        logger.exception("the default model could not be prepared; /readyz stays 503")


def _error(
    status: int, code: str, message: str, details: list[dict[str, object]] | None = None
) -> JSONResponse:
    content: dict[str, object] = {"error": code, "message": message}
    if details is not None:
        content["details"] = details
    return JSONResponse(status_code=status, content=content)


_LONG_NUMBER = re.compile(r"-?\d{17,}")


def _describe(error: dict[str, object]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))  # type: ignore[attr-defined]
    received = error.get("input")
    shown = repr(received)
    if len(shown) > 60:
        shown = (
            f"{type(received).__name__} of length {len(received)}"
            if hasattr(received, "__len__")
            else shown[:57] + "..."
        )
    return f"{location}: {_tidy(error.get('msg'))} (got {shown})"


def _tidy(message: object) -> str:
    """Pydantic prints a large float bound (1e100) as all its digits; show it as 1e+100."""
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group()):g}", str(message))


def _parse_failure(error: StarletteHTTPException) -> str:
    """FastAPI's 400 only says "There was an error parsing the body": say why."""
    cause = error.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (
            "the body must be UTF-8 encoded JSON; got byte "
            f"{cause.object[cause.start : cause.start + 1]!r} at offset {cause.start}"
        )
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deeply to parse; request bodies are flat objects"
    return str(error.detail)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        response = _error(error.status_code, error.code, error.message)
        if error.status_code == 401:
            response.headers["www-authenticate"] = "Bearer"  # the scheme a 401 must name
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = list(error.errors())
        details = [
            {"loc": list(e.get("loc", ())), "msg": _tidy(e.get("msg")), "type": e.get("type")}
            for e in errors[:20]
        ]
        message = "; ".join(_describe(e) for e in errors[:5])
        if len(errors) > 5:
            message += f"; and {len(errors) - 5} more"
        if any(e.get("loc") == ("body",) and isinstance(e.get("input"), bytes) for e in errors):
            # Not parsed as JSON: the content type was not JSON's.
            message = (
                "the body must be a JSON object sent with 'Content-Type: application/json'; "
                f"got content type {request.headers.get('content-type')!r}"
            )
        return _error(422, "invalid_input", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}
        detail = _parse_failure(error) if error.status_code == 400 else str(error.detail)
        response = _error(error.status_code, codes.get(error.status_code, "http_error"), detail)
        response.headers.update(error.headers or {})
        if error.status_code == 405 and (matched := path_templates(app).match(request.url.path)):
            response.headers["allow"] = ", ".join(matched.methods)  # every route of the path
        return response

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # A bug, not a user error: never a bare "Internal Server Error". The traceback goes to
        # the server log (Starlette re-raises after this), findable by the request id.
        request_id = str(getattr(request.state, "request_id", ""))
        response = _error(
            500,
            "internal_error",
            f"internal error ({type(error).__name__}) while handling {request.method} "
            f"{request.url.path}; the server log has the details under request id {request_id}",
        )
        response.headers["x-request-id"] = request_id
        return response


app = create_app()
