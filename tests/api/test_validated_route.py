"""ValidatedJsonRoute (/predict-next, /forecast): valid JSON bodies take one pydantic-core
pass, and every request gets the response FastAPI's own handler would give."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import app.api.routing as routing_module
from app.api.routing import ValidatedJsonRoute
from app.main import create_app
from app.settings import Settings
from tests.conftest import wait_ready

FAST = "application/json"
# The same media type, spelled so that the route hands the request to FastAPI's own handler.
STANDARD = "application/json; charset=utf-8"
WINDOW = [math.sin(i * 2 * math.pi / 40) for i in range(40)]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[TestClient]:
    store = tmp_path_factory.mktemp("validated") / "store"
    shutil.copytree(trained_store, store)
    with TestClient(create_app(Settings(model_store=store))) as test_client:
        wait_ready(test_client)
        yield test_client


def both_paths(
    client: TestClient, content: bytes, path: str = "/predict-next"
) -> tuple[tuple[int, object], tuple[int, object]]:
    answers = []
    for content_type in (FAST, STANDARD):
        response = client.post(path, content=content, headers={"content-type": content_type})
        answers.append((response.status_code, response.json()))
    return answers[0], answers[1]


_VALUE = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(10**120), 10**120)
    | st.booleans()
    | st.none()
    | st.text(max_size=4)
    | st.lists(st.floats(allow_nan=False), max_size=2)
)
_WINDOW = (
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=40, max_size=40)
    | st.lists(_VALUE, max_size=45)
    | st.lists(_VALUE, min_size=40, max_size=40)
    | _VALUE
)
_BODY = st.fixed_dictionaries(
    {"window": _WINDOW},
    optional={
        "model": st.sampled_from(["default", "missing", "../x", "UPPER", "", 7]),
        "extra": st.integers(),
    },
)
_RAW = st.sampled_from(
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"window": [NaN]}',
        b'{"window": [Infinity, 1]}',
        b'{"window": [1e999]}',
        b"\xff\xfe{}",
        b'{"window": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        json.dumps({"window": WINDOW}).encode() + b" trailing",
        json.dumps({"window": WINDOW, "window ": 1}).encode(),
        b'{"window": ' + json.dumps(WINDOW).encode() + b', "window": [1]}',  # duplicate key
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_BODY.map(lambda body: json.dumps(body).encode()) | _RAW)
def test_every_body_gets_the_answer_of_fastapis_own_handler(
    client: TestClient, body: bytes
) -> None:
    fast, standard = both_paths(client, body)
    assert fast == standard


_FORECAST_BODY = st.fixed_dictionaries(
    {"horizon": st.integers(-2, 60) | _VALUE},
    optional={
        "model": st.sampled_from(["default", "missing", 7]),
        "series": st.lists(st.floats(-5, 5), min_size=38, max_size=45) | _VALUE,
        "level": st.lists(st.sampled_from([80, 95, 101, "x"]), max_size=2) | _VALUE,
        "start": st.sampled_from(["2026-01-01", "later", 3]),
        "freq": st.sampled_from(["D", "h", "fortnight", None]),
        "extra": st.integers(),
    },
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_FORECAST_BODY.map(lambda body: json.dumps(body).encode()) | _RAW)
def test_every_forecast_body_gets_the_answer_of_fastapis_own_handler(
    client: TestClient, body: bytes
) -> None:
    fast, standard = both_paths(client, body, "/forecast")
    assert fast == standard


def test_a_valid_body_takes_the_one_pass_path(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes: list[bool] = []
    real = routing_module._parsed_json_body

    async def counted(request: Request, model: type[BaseModel]) -> BaseModel | None:
        parsed = await real(request, model)
        outcomes.append(parsed is not None)
        return parsed

    monkeypatch.setattr(routing_module, "_parsed_json_body", counted)
    fast, standard = both_paths(client, json.dumps({"window": WINDOW}).encode())
    assert fast[0] == 200
    assert fast == standard
    assert outcomes == [True, False]  # the fast spelling took the one-pass path
    short = client.post("/predict-next", json={"window": WINDOW[:39]})  # valid JSON body:
    assert short.status_code == 422  # the service refuses the window size, on the fast path
    invalid = client.post("/predict-next", json={"window": ["1.5"]})  # strict: no strings
    assert invalid.status_code == 422
    assert outcomes == [True, False, True, False]


class Body(BaseModel):
    value: int


def test_endpoints_it_cannot_serve_are_refused_when_the_app_is_built() -> None:
    async def with_query(body: Body, limit: int) -> Response:
        return Response()

    async def plain_body(body: list[int]) -> Response:
        return Response()

    def not_async(body: Body) -> Response:
        return Response()

    for endpoint, reason in (
        (with_query, "no other inputs"),
        (plain_body, "pydantic model"),
        (not_async, "async def"),
    ):
        with pytest.raises(TypeError, match=reason):
            FastAPI().router.add_api_route(
                "/x", endpoint, methods=["POST"], route_class_override=ValidatedJsonRoute
            )


def test_an_endpoint_that_returns_a_model_is_an_error_not_a_silent_success() -> None:
    app = FastAPI()

    async def returns_model(body: Body, request: Request) -> Body:
        return body

    app.router.add_api_route(
        "/x", returns_model, methods=["POST"], route_class_override=ValidatedJsonRoute
    )
    with (
        TestClient(app, raise_server_exceptions=True) as test_client,
        pytest.raises(TypeError, match="must return a Response"),
    ):
        test_client.post("/x", json={"value": 1})


def test_a_client_gone_mid_body_gets_what_fastapis_handler_gives(client: TestClient) -> None:
    """A body whose read fails (the client disconnected) is left to FastAPI's handler too."""

    async def call(content_type: bytes) -> list[dict[str, object]]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "path": "/predict-next",
            "raw_path": b"/predict-next",
            "query_string": b"",
            "headers": [
                (b"host", b"test"),
                (b"content-type", content_type),
                (b"content-length", b"100"),  # passes the size limit's own reading
            ],
            "scheme": "http",
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
            "root_path": "",
            "state": {},
        }
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await client.app(scope, receive, send)
        return sent

    fast = asyncio.run(call(FAST.encode()))
    standard = asyncio.run(call(STANDARD.encode()))
    assert fast[0]["status"] == standard[0]["status"] == 400
    assert fast[1]["body"] == standard[1]["body"]
