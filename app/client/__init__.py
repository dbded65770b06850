"""A typed Python client for the forecasting service, sync and async, on httpx.

    from app.client import ForecastClient
    with ForecastClient("http://127.0.0.1:8000") as client:
        model = client.train(values, model="sales", window_size=12, progress=print)
        print(client.forecast(24, model="sales", level=[80, 95]).forecast)

It imports neither torch nor the server: only httpx and pydantic. docs/client.md has more.
"""

from app.client.aio import AsyncForecastClient
from app.client.errors import (
    APIError,
    ConflictError,
    ConnectionFailedError,
    ForecastClientError,
    InvalidInputError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    MalformedRequestError,
    ModelNotFoundError,
    NotFoundError,
    NotReadyError,
    PayloadTooLargeError,
    ServerError,
    StorageError,
    TooManyRequestsError,
    TrainingFailedError,
    TrainingInProgressError,
    UnauthorizedError,
    WaitTimeoutError,
)
from app.client.sync import DEFAULT_URL, ForecastClient
from app.client.types import (
    Forecast,
    Interval,
    Job,
    JobError,
    Model,
    Prediction,
    Progress,
    SeriesData,
)

__all__ = [
    "DEFAULT_URL",
    "APIError",
    "AsyncForecastClient",
    "ConflictError",
    "ConnectionFailedError",
    "Forecast",
    "ForecastClient",
    "ForecastClientError",
    "Interval",
    "InvalidInputError",
    "Job",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobNotFoundError",
    "MalformedRequestError",
    "Model",
    "ModelNotFoundError",
    "NotFoundError",
    "NotReadyError",
    "PayloadTooLargeError",
    "Prediction",
    "Progress",
    "SeriesData",
    "ServerError",
    "StorageError",
    "TooManyRequestsError",
    "TrainingFailedError",
    "TrainingInProgressError",
    "UnauthorizedError",
    "WaitTimeoutError",
]
