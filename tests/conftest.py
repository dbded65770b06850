"""Fixtures and the one builder of each kind the tests share: apps on copies of a trained store,
training bodies, and polling with a deadline."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

T = TypeVar("T")
POLL_SECONDS = 0.02
FINISHED = ("succeeded", "failed", "cancelled")


def poll(
    probe: Callable[[], T],
    until: Callable[[T], bool],
    *,
    what: str,
    timeout: float = 120.0,
    interval: float = POLL_SECONDS,
) -> T:
    """Call `probe` until `until` accepts what it returns, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last seen: {result!r}")
        time.sleep(interval)


async def poll_async(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    what: str,
    timeout: float = 120.0,
) -> T:
    """`poll` for an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last seen: {result!r}")
        await asyncio.sleep(POLL_SECONDS)


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    poll(
        lambda: client.get("/readyz").status_code,
        lambda status: status == 200,
        what="GET /readyz to answer 200",
        timeout=timeout,
    )


def wait_server_ready(process: subprocess.Popen[bytes], base_url: str) -> None:
    """Until the server process at `base_url` answers /readyz with 200; fails if it exits."""

    def ready() -> bool:
        if process.poll() is not None:
            output = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise AssertionError(f"the server at {base_url} exited: {output}")
        try:
            return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    poll(ready, bool, what=f"the server at {base_url} to be ready", interval=0.1)


def finished_job(client: TestClient, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """The job, once it has finished."""
    job: dict[str, Any] = poll(
        lambda: client.get(f"/jobs/{job_id}").json(),
        lambda job: job["status"] in FINISHED,
        what=f"job {job_id} to finish",
        timeout=timeout,
    )
    return job


def seasonal_series(length: int = 120, period: float = 12, trend: float = 0.01) -> list[float]:
    """A sine of `period` steps on a slight linear trend."""
    return [math.sin(i * 2 * math.pi / period) + trend * i for i in range(length)]


def train_body(name: str = "small", *, length: int = 120, **overrides: Any) -> dict[str, Any]:
    """A short training (window 12, hidden 8, two epochs) that is always published.

    Two epochs do not beat the seasonal naive baseline on this series; tests of the mechanics
    serve every version (tests/api/test_quality.py tests the promotion gate)."""
    body: dict[str, Any] = {
        "model": name,
        "series": seasonal_series(length),
        "window_size": 12,
        "hidden_size": 8,
        "test_size": 12,
        "epochs": 2,
        "seed": 1,
        "promote": "always",
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose default model was trained by the app's own startup (a real, short run)."""
    root = tmp_path_factory.mktemp("seed-store")
    app = create_app(Settings(model_store=root, default_max_epochs=3))
    with TestClient(app) as client:
        wait_ready(client)
    return root


@pytest.fixture
def store_dir(tmp_path: Path, trained_store: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(trained_store, target)
    return target


@pytest.fixture
def settings(store_dir: Path) -> Settings:
    return Settings(model_store=store_dir, max_series_length=5000, max_horizon=2000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        wait_ready(test_client)
        yield test_client
