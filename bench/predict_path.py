"""Where one /predict-next goes: the model alone, and the request in-process, per vector width.

    .venv/bin/python -m bench.predict_path            # ~2 minutes; prints markdown tables

1. The default model on one window, in a tight loop: PyTorch's module, the numpy engine (the
   pipelined forecast of one step), and the compiled kernel (kernel.predict_one).
2. The app driven in-process through ASGI (no sockets, no HTTP parser): GET /healthz,
   POST /predict-next, and POST /predict-next with the kernel swapped for a constant, so
   "real - constant" is what the kernel costs inside a request, next to its own time there.
   Also POST /predict-next sent as `application/json; charset=utf-8`, which its route
   (app/api/routing.py) leaves to FastAPI's generic body handling: what the route saves.
   Run once per numba code-generation target (a subprocess each): this machine's default
   vector width, 128-bit vectors (what app/forecasting/jit.py picks), and SSE2-only code.

Medians of interleaved rounds; compare ratios within one run, not absolute numbers.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WINDOW = [round(math.sin(x * 2 * 3.1416 / 40), 6) for x in range(760, 800)]
BODY = json.dumps({"window": WINDOW}).encode()
_CHARSET = b"application/json; charset=utf-8"


def median_us(function: Callable[[], object], calls: int, rounds: int = 5) -> float:
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        medians.append(statistics.median(times))
    return statistics.median(medians) * 1e6


def model_alone() -> list[str]:
    import numpy as np
    import torch

    from app.forecasting import ModelConfig
    from app.forecasting.engine import InferenceWeights, forecast_pipelined
    from app.forecasting.kernel import predict_one, warm_up
    from app.forecasting.model import RecurrentRegressor

    torch.set_num_threads(1)
    warm_up()
    config = ModelConfig()
    torch.manual_seed(0)
    model = RecurrentRegressor(config).eval()
    weights = InferenceWeights.from_state_dict(config, model.state_dict())
    window = np.array(WINDOW)
    tensor = torch.tensor(window, dtype=torch.float32)[None, :]

    def module() -> object:
        with torch.no_grad():
            return model(tensor)

    rows = {
        "PyTorch module (nn.LSTM + Linear)": median_us(module, 500),
        "numpy engine (40 batched steps)": median_us(
            lambda: forecast_pipelined(weights, window[None, :], 1), 500
        ),
        "compiled kernel (predict_one)": median_us(
            lambda: predict_one(weights.kernel, window, 0.0, 1.0, difference=False), 2000
        ),
    }
    lines = ["| one window of the default model | µs (median) |", "| --- | ---: |"]
    lines += [f"| {name} | {value:.1f} |" for name, value in rows.items()]
    return lines


async def _call(
    app: Any, method: str, path: str, body: bytes = b"", content_type: bytes = b"application/json"
) -> int:
    headers = [(b"host", b"bench")]
    if body:
        headers += [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
        ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _in_process(store: Path) -> dict[str, float]:
    import logging

    import app.forecasting.forecaster as forecaster_module
    from app.main import create_app
    from app.settings import Settings

    app = create_app(Settings(model_store=store))
    real = forecaster_module.predict_one
    inline: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> float:
        started = time.perf_counter()
        value = real(*args, **kwargs)
        inline.append(time.perf_counter() - started)
        return value

    results: dict[str, list[float]] = {
        "healthz": [],
        "real": [],
        "constant": [],
        "inline": [],
        "standard": [],
    }
    async with app.router.lifespan_context(app):
        logging.getLogger("app").setLevel("WARNING")  # request log lines are not the subject
        while await _call(app, "GET", "/readyz") != 200:
            await asyncio.sleep(0.2)
        for _ in range(6):
            for mode in ("healthz", "real", "constant", "standard"):
                forecaster_module.predict_one = (
                    timed if mode != "constant" else (lambda *args, **kwargs: 0.5)
                )
                inline.clear()
                times = []
                for _ in range(600):
                    started = time.perf_counter()
                    if mode == "healthz":
                        status = await _call(app, "GET", "/healthz")
                    elif mode == "standard":  # a content type the fast route leaves to FastAPI
                        status = await _call(app, "POST", "/predict-next", BODY, _CHARSET)
                    else:
                        status = await _call(app, "POST", "/predict-next", BODY)
                    times.append(time.perf_counter() - started)
                    assert status == 200, status
                results[mode].append(statistics.median(times) * 1e6)
                if mode == "real":
                    results["inline"].append(statistics.median(inline) * 1e6)
        forecaster_module.predict_one = real
    return {mode: statistics.median(values) for mode, values in results.items()}


def targets() -> dict[str, dict[str, str]]:
    import llvmlite.binding as llvm

    name, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
    return {
        f"{name}, LLVM's default width": {"NUMBA_CPU_NAME": name, "NUMBA_CPU_FEATURES": features},
        f"{name}, 128-bit vectors (jit.py)": {
            "NUMBA_CPU_NAME": name,
            "NUMBA_CPU_FEATURES": features + ",+prefer-128-bit",
        },
        "generic x86-64 (SSE2)": {"NUMBA_CPU_NAME": "generic"},
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--in-process":
        print(json.dumps(asyncio.run(_in_process(Path(sys.argv[2])))))
        return
    print("\n".join(model_alone()))
    print()
    with tempfile.TemporaryDirectory(prefix="predict-path-") as store:
        lines = [
            "| numba target | /healthz µs | /predict-next µs | same, FastAPI's body handling "
            "µs | kernel inside | kernel's cost to the request (real - constant) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, env in targets().items():
            clean = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU")}
            output = subprocess.run(
                [sys.executable, "-m", "bench.predict_path", "--in-process", store],
                cwd=ROOT,
                env={**clean, **env},
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            ).stdout
            r = json.loads(output.strip().splitlines()[-1])
            lines.append(
                f"| {label} | {r['healthz']:.0f} | {r['real']:.0f} | {r['standard']:.0f} | "
                f"{r['inline']:.0f} | "
                f"{r['real'] - r['constant']:.0f} |"
            )
        print("\n".join(lines))


if __name__ == "__main__":
    main()
