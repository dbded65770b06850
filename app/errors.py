"""The service's errors: one base carrying its HTTP status, rendered by one handler.

ServiceError                    500 internal_error
 ├── InvalidInputError          422 invalid_input
 ├── UnauthorizedError          401 unauthorized
 ├── ModelNotFoundError         404 model_not_found
 ├── JobNotFoundError           404 job_not_found
 ├── VersionNotFoundError       404 version_not_found
 ├── ConflictError              409 conflict
 │    ├── TrainingInProgressError 409 training_in_progress
 │    └── JobCancelledError     409 cancelled (a background job's error, never an answer)
 ├── PayloadTooLargeError       413 payload_too_large
 ├── TooManyTrainingsError      429 too_many_trainings
 ├── TooManyJobsError           429 too_many_jobs
 ├── TrainingFailedError        500 training_failed
 ├── NotReadyError              503 not_ready
 └── StorageError               507 storage_error
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(ServiceError):
    status_code = 422
    code = "invalid_input"


class UnauthorizedError(ServiceError):
    status_code = 401
    code = "unauthorized"


class ModelNotFoundError(ServiceError):
    status_code = 404
    code = "model_not_found"

    def __init__(self, name: str, *, candidates: list[int] | None = None) -> None:
        if candidates:
            super().__init__(
                f"model {name!r} serves no version: version(s) {candidates} were kept as "
                f"candidates (they did not pass the promotion gate); GET /models/{name}/versions "
                f'says why, POST /models/{name}/rollback with {{"version": N}} serves one'
            )
        else:
            super().__init__(f"no model named {name!r}; GET /models lists the models there are")


class JobNotFoundError(ServiceError):
    status_code = 404
    code = "job_not_found"


class VersionNotFoundError(ServiceError):
    status_code = 404
    code = "version_not_found"


class ConflictError(ServiceError):
    status_code = 409
    code = "conflict"


class TrainingInProgressError(ConflictError):
    status_code = 409
    code = "training_in_progress"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"model {name!r} is already being trained; retry when that training has finished"
        )


class JobCancelledError(ConflictError):
    """The work of a job stopped because DELETE /jobs/{id} asked it to."""

    status_code = 409
    code = "cancelled"


class PayloadTooLargeError(ServiceError):
    status_code = 413
    code = "payload_too_large"


class TooManyTrainingsError(ServiceError):
    status_code = 429
    code = "too_many_trainings"


class TooManyJobsError(ServiceError):
    status_code = 429
    code = "too_many_jobs"


class TrainingFailedError(ServiceError):
    status_code = 500
    code = "training_failed"


class NotReadyError(ServiceError):
    status_code = 503
    code = "not_ready"


class StorageError(ServiceError):
    status_code = 507
    code = "storage_error"
