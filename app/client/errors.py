"""The client's errors: one per documented error status, each carrying the server's message.

ForecastClientError
 ├── ConnectionFailedError        the server could not be reached, or did not answer in time
 ├── WaitTimeoutError             a waited-for job did not finish within the given time
 ├── JobFailedError               a waited-for job ended failed (`.job` holds it)
 │    └── JobCancelledError       ... or cancelled
 └── APIError                     the server answered an error: `.status`, `.code`, `.message`
      ├── MalformedRequestError   400
      ├── UnauthorizedError       401
      ├── NotFoundError           404
      │    ├── ModelNotFoundError     code model_not_found
      │    └── JobNotFoundError       code job_not_found
      ├── ConflictError           409
      │    └── TrainingInProgressError code training_in_progress
      ├── PayloadTooLargeError    413
      ├── InvalidInputError       422
      ├── TooManyRequestsError    429 (too_many_trainings, too_many_jobs)
      ├── ServerError             500
      │    └── TrainingFailedError    code training_failed
      ├── NotReadyError           503
      └── StorageError            507
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from app.client.types import Job


class ForecastClientError(Exception):
    """Base class of every error the client raises."""


class ConnectionFailedError(ForecastClientError):
    """The server could not be reached or did not answer within the timeout."""


class WaitTimeoutError(ForecastClientError):
    """A job did not finish within the time the caller was willing to wait."""


class JobFailedError(ForecastClientError):
    """A job the client waited for did not succeed; `job.error` says why."""

    def __init__(self, job: Job) -> None:
        reason = job.error.message if job.error is not None else "no reason given"
        super().__init__(f"job {job.id} {job.status}: {reason}")
        self.job = job


class JobCancelledError(JobFailedError):
    pass


class APIError(ForecastClientError):
    """The server answered an error status with its `{"error": code, "message": ...}` body."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class MalformedRequestError(APIError):
    pass


class UnauthorizedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ModelNotFoundError(NotFoundError):
    pass


class JobNotFoundError(NotFoundError):
    pass


class ConflictError(APIError):
    pass


class TrainingInProgressError(ConflictError):
    pass


class PayloadTooLargeError(APIError):
    pass


class InvalidInputError(APIError):
    pass


class TooManyRequestsError(APIError):
    pass


class ServerError(APIError):
    pass


class TrainingFailedError(ServerError):
    pass


class NotReadyError(APIError):
    pass


class StorageError(APIError):
    pass


_BY_STATUS: dict[int, type[APIError]] = {
    400: MalformedRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    429: TooManyRequestsError,
    500: ServerError,
    503: NotReadyError,
    507: StorageError,
}
_BY_CODE: dict[str, type[APIError]] = {
    "model_not_found": ModelNotFoundError,
    "job_not_found": JobNotFoundError,
    "training_in_progress": TrainingInProgressError,
    "training_failed": TrainingFailedError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The specific APIError for an error response, with the server's code and message."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code, message = str(body.get("error", "error")), body["message"]
    else:
        code = "http_error"
        message = response.text.strip()[:500] or response.reason_phrase or f"HTTP {status}"
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if kind is None or not issubclass(kind, _BY_STATUS.get(status, APIError)):
        kind = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return kind(status, code, message, body)
