"""Every error answer is built here: `{"error": code, "message": ...}` (validation errors add
`details`), by one body builder used by the exception handlers, the middlewares and readiness.

The handlers render the service's own errors (app/errors.py), FastAPI's validation errors (the
message says what was expected and what arrived), Starlette's HTTP errors (400, 404, 405) and
any unexpected exception (a 500 that names it and the request id, never a trace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sized
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.paths import PathTemplates
from app.errors import ServiceError

_LONG_NUMBER = re.compile(r"-?\d{17,}")
_HTTP_CODES = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, object]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one error body, as a response."""
    content: dict[str, object] = {"error": code, "message": message}
    if details is not None:
        content["details"] = details
    return JSONResponse(status_code=status, content=content, headers=headers)


def install_error_handlers(app: FastAPI, templates: PathTemplates) -> None:
    app.exception_handler(ServiceError)(_service_error)
    app.exception_handler(RequestValidationError)(_validation_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = _parse_failure(error) if error.status_code == 400 else str(error.detail)
        code = _HTTP_CODES.get(error.status_code, "http_error")
        headers = dict(error.headers or {})
        if error.status_code == 405 and (matched := templates.match(request.url.path)):
            headers["allow"] = ", ".join(matched.methods)  # every route of the path
        return error_response(error.status_code, code, detail, headers=headers)

    app.exception_handler(Exception)(_unexpected_error)


async def _service_error(request: Request, error: ServiceError) -> JSONResponse:
    # A 401 must name the scheme it wants.
    headers = {"www-authenticate": "Bearer"} if error.status_code == 401 else None
    return error_response(error.status_code, error.code, error.message, headers=headers)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
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
    return error_response(422, "invalid_input", message, details=details)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # A bug, not a user error: never a bare "Internal Server Error". The traceback goes to
    # the server log (Starlette re-raises after this), findable by the request id.
    request_id = str(getattr(request.state, "request_id", ""))
    return error_response(
        500,
        "internal_error",
        f"internal error ({type(error).__name__}) while handling {request.method} "
        f"{request.url.path}; the server log has the details under request id {request_id}",
        headers={"x-request-id": request_id},
    )


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    received = error.get("input")
    shown = repr(received)
    if len(shown) > 60:
        shown = (
            f"{type(received).__name__} of length {len(received)}"
            if isinstance(received, Sized)
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
