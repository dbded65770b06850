#!/usr/bin/env python3
"""End-to-end smoke test of a running service, over HTTP, with nothing but the standard library.

    scripts/smoke.py [BASE_URL]          (default: $BASE_URL, else http://127.0.0.1:8000)

Checks health and readiness, trains a small model, forecasts with it and with `default`,
predicts the next value, loads the docs page and its assets, then deletes the model it trained.
Sends `Authorization: Bearer $FORECAST_API_KEY` when that is set. Prints one line per step and
exits 1 at the first failure, saying what was expected and what arrived.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 120.0


class SmokeError(Exception):
    pass


class Client:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise SmokeError(f"BASE_URL must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        url = self.base_url + path  # http(s) only, checked in __init__
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def expect(self, method: str, path: str, body: object = None, status: int = 200) -> Any:
        got, content = self.call(method, path, body)
        if got != status:
            shown = content[:300].decode(errors="replace")
            raise SmokeError(f"{method} {path}: expected {status}, got {got}: {shown}")
        if not content:
            return None
        try:
            return json.loads(content)
        except json.JSONDecodeError:
            return content.decode(errors="replace")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeError(message)


def finite_floats(values: object, count: int, what: str) -> list[float]:
    check(
        isinstance(values, list)
        and len(values) == count
        and all(isinstance(v, float | int) and math.isfinite(v) for v in values),
        f"{what}: expected {count} finite numbers, got {str(values)[:200]}",
    )
    assert isinstance(values, list)
    return [float(v) for v in values]


def wait_ready(client: Client, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, content = client.call("GET", "/readyz")
        except OSError as error:
            status, content = 0, str(error).encode()
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise SmokeError(
                f"GET /readyz: expected 200 within {seconds:.0f} s, got {status}: {content[:200]!r}"
            )
        time.sleep(0.5)


def run(client: Client) -> None:
    name = f"smoke-{os.getpid()}-{int(time.time())}"
    series = [math.sin(i * 2 * math.pi / 12) + 0.01 * i for i in range(120)]

    def step(label: str) -> None:
        print(f"ok   {label}", flush=True)

    check(client.expect("GET", "/healthz") == {"status": "ok"}, "GET /healthz: expected status ok")
    step("GET /healthz")
    wait_ready(client, 120)
    step("GET /readyz")

    body = {
        "model": name,
        "series": series,
        "window_size": 12,
        "hidden_size": 8,
        "test_size": 12,
        "epochs": 3,
        "seed": 1,
    }
    schema = client.expect("GET", "/openapi.json")
    if "promote" in schema["components"]["schemas"]["TrainRequest"]["properties"]:
        body["promote"] = "always"  # served whatever it scores: this checks plumbing, not quality
    trained = client.expect("POST", "/train", body)
    check(trained.get("model") == name, f"POST /train: expected model {name!r}, got {trained}")
    version = trained["version"]
    check(
        isinstance(version, int) and version >= 1,
        f"POST /train: expected a version >= 1, got {version!r}",
    )
    step(f"POST /train {name} -> version {version}")
    try:
        forecast = client.expect("POST", "/forecast", {"model": name, "horizon": 24})
        check(
            forecast["version"] == version,
            f"POST /forecast: expected version {version}, got {forecast['version']}",
        )
        values = finite_floats(forecast["forecast"], 24, "POST /forecast")
        check(
            max(abs(v) for v in values) < 10,
            f"POST /forecast: values far off a unit sine: {values[:5]}",
        )
        step(f"POST /forecast {name} horizon 24")

        window = series[-12:]
        predicted = client.expect("POST", "/predict-next", {"model": name, "window": window})
        first = finite_floats([predicted["prediction"]], 1, "POST /predict-next")[0]
        check(
            abs(first - values[0]) < 1e-4,
            f"POST /predict-next: expected forecast[0]={values[0]}, got {first}",
        )
        step(f"POST /predict-next {name} (equals forecast[0])")

        default = client.expect("POST", "/forecast", {"model": "default", "horizon": 40})
        finite_floats(default["forecast"], 40, "POST /forecast default")
        step(f"POST /forecast default horizon 40 (version {default['version']})")

        bad = client.call("POST", "/predict-next", {"model": name, "window": [1.0]})[0]
        check(bad == 422, f"POST /predict-next with a short window: expected 422, got {bad}")
        step("POST /predict-next short window -> 422")
    finally:
        client.expect("DELETE", f"/models/{name}", status=204)
        step(f"DELETE /models/{name}")

    page = client.expect("GET", "/docs")
    check("swagger-ui" in page, "GET /docs: expected the Swagger UI page")
    for path in (
        "/docs-assets/swagger-ui-bundle.js",
        "/docs-assets/swagger-ui.css",
        "/openapi.json",
    ):
        client.expect("GET", path)
    step("GET /docs (+ its script, stylesheet and /openapi.json)")


def main() -> int:
    base_url = (
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BASE_URL", "http://127.0.0.1:8000")
    )
    started = time.monotonic()
    try:
        run(Client(base_url, os.environ.get("FORECAST_API_KEY")))
    except (SmokeError, OSError, KeyError, TypeError, AttributeError) as error:
        print(f"FAIL {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"smoke test passed against {base_url} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
