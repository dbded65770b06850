"""A route class for the hottest endpoint: valid JSON bodies skip FastAPI's generic handling."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]


class ValidatedJsonRoute(APIRoute):
    """For an endpoint whose parameters are one pydantic model (the JSON body) and optionally
    the Request, and which returns a Response itself.

    A request sent with `Content-Type: application/json` whose body validates in one pass of
    pydantic-core (`model_validate_json`: parse and validate without building Python objects
    first) calls the endpoint directly. Every other request (another or no content type,
    malformed JSON, invalid values) goes through FastAPI's own handler with the body already
    read, so every error response is FastAPI's by construction; only the work done for valid
    bodies changes. That work (content-type parsing with email.message, json.loads, validating
    the Python objects, dependency solving) was ~95 µs of /predict-next's ~360 µs in process
    (bench/predict_path.py; docs/reliability.md).

    The schema, the docs page and the 422s come from the same declaration as on any route.
    """

    def get_route_handler(self) -> RouteHandler:
        standard = super().get_route_handler()
        dependant = self.dependant
        others = [
            *dependant.dependencies,
            *dependant.path_params,
            *dependant.query_params,
            *dependant.header_params,
            *dependant.cookie_params,
        ]
        if len(dependant.body_params) != 1 or others:
            raise TypeError(
                f"{self.path}: ValidatedJsonRoute needs an endpoint with exactly one body "
                f"parameter and no other inputs than the Request; got {self.endpoint}"
            )
        body = dependant.body_params[0]
        model = body.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{self.path}: the body must be a pydantic model; got {model!r}")
        call = self.endpoint
        if not inspect.iscoroutinefunction(call):
            raise TypeError(f"{self.path}: the endpoint must be `async def`")
        request_name = dependant.request_param_name

        async def handler(request: Request) -> Response:
            parsed = await _parsed_json_body(request, model)
            if parsed is None:  # FastAPI's handler decides, from the same (cached) bytes
                return await standard(request)
            arguments: dict[str, Any] = {body.name: parsed}
            if request_name is not None:
                arguments[request_name] = request
            response = await call(**arguments)
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: the endpoint must return a Response")
            return response

        return handler


async def _parsed_json_body(request: Request, model: type[BaseModel]) -> BaseModel | None:
    """The body as `model` when it came as application/json and validates in one pass; None
    for anything else, a failed read (a client gone mid-body) included."""
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        return model.model_validate_json(await request.body())
    except Exception:
        return None
