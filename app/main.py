"""The FastAPI application: `create_app(settings)`.

    uvicorn --factory app.main:create_app     # settings from FORECAST_* environment variables

Everything is resolved when the app is created: the settings, the service and what the
middlewares need; the lifespan only starts and stops the service. Importing this module reads
no environment: `app.main:app` (the older entry, `uvicorn app.main:app`) builds the app from the
environment on first access.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from app.api.deps import attach_service
from app.api.docs import mount_offline_docs
from app.api.errors import install_error_handlers
from app.api.middleware import BodySizeLimitMiddleware, MetricsMiddleware, RequestLogMiddleware
from app.api.paths import PathTemplates
from app.api.routes import dashboard, health, jobs, metrics, models, predict, quality, train
from app.logs import configure_logging
from app.serving import ForecastService
from app.settings import Settings

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
    """Build the app; without `settings`, they are read from the environment now."""
    settings = settings if settings is not None else Settings()
    configure_logging(settings.log_level)
    service = ForecastService(settings)
    app = FastAPI(
        title="LSTM forecasting service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=_lifespan(service),
        docs_url=None,
        redoc_url=None,
    )
    attach_service(app, service)
    _add_routes(app)
    templates = PathTemplates(app)
    install_error_handlers(app, templates)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outside the size limit: counts 413s too.
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, templates=templates)
    app.add_middleware(RequestLogMiddleware)
    return app


def _lifespan(service: ForecastService) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    return lifespan


def _add_routes(app: FastAPI) -> None:
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


@functools.cache
def _app_from_environment() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:
    """`app.main:app`, built from the environment when first asked for (PEP 562)."""
    if name == "app":
        return _app_from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
