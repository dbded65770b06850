"""ASGI middleware: request body size limit, one structured log line per request, metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response
from app.api.paths import PathTemplates
from app.serving.metrics import UNMATCHED_ROUTE, ServiceMetrics

logger = logging.getLogger("app.requests")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodySizeLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, with or without Content-Length (chunked).

    A declared Content-Length is checked before anything is read. A chunked body is read (up
    to the limit) before the app runs, so an over-long upload is cut off after the limit
    instead of being buffered whole.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > max_bytes:
                await self._reject(scope, receive, send, f"{int(declared)} bytes declared")
                return
            # The server frames the body by Content-Length: no more than declared can arrive,
            # so there is nothing to count (and no buffering on the /predict-next hot path).
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await self._reject(scope, receive, send, f"more than {max_bytes} bytes sent")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, received: str) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"request body may be at most {self.max_bytes} bytes (FORECAST_MAX_BODY_BYTES); "
            f"got {received}",
            headers={"connection": "close"},
        )
        await response(scope, receive, send)


class RequestLogMiddleware:
    """Log method, path, status, duration and request id; keep and echo X-Request-ID.

    Bodies are never logged: series are the users' data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "request_id": request_id,
                },
            )


class MetricsMiddleware:
    """Count requests and time them by method, route template and status; track in-flight.

    The route label is the matched route's template (`/models/{name}`), read from the scope
    after the router ran. Requests refused before routing (413) are matched against the
    schema's path templates; paths that match none share one label.
    """

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, templates: PathTemplates) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped every handler

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            metrics.in_flight.dec()
            metrics.observe_request(
                scope["method"], self._route(scope), status, time.perf_counter() - started
            )

    def _route(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str) and path:
            return path
        matched = self.templates.match(scope["path"])
        return matched.template if matched is not None else UNMATCHED_ROUTE
