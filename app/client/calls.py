"""What each API call sends and how its answer is read, shared by the sync and async clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from app.client.errors import JobCancelledError, JobFailedError, WaitTimeoutError
from app.client.types import Forecast, Job, Model, Prediction, Progress, SeriesData

T = TypeVar("T")
ProgressCallback = Callable[[Progress], None]
TERMINAL = ("succeeded", "failed", "cancelled")
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request. `idempotent` calls may be retried: they change nothing on the server."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: dict[str, Any] | None = None
    idempotent: bool = True
    long: bool = False  # may take a training's time: uses the client's train_timeout


def _none(response: httpx.Response) -> None:
    return None


def _ok(response: httpx.Response) -> bool:
    return response.is_success


def _text(response: httpx.Response) -> str:
    return response.text


def _models(response: httpx.Response) -> list[Model]:
    return [Model.model_validate(item) for item in response.json()["models"]]


def _jobs(response: httpx.Response) -> list[Job]:
    return [Job.model_validate(item) for item in response.json()["jobs"]]


def _parser(kind: type[T]) -> Callable[[httpx.Response], T]:
    def parse(response: httpx.Response) -> T:
        return kind.model_validate(response.json())  # type: ignore[attr-defined, no-any-return]

    return parse


def _segment(value: str) -> str:
    return quote(value, safe="")


def events_path(job_id: str) -> str:
    return f"/jobs/{_segment(job_id)}/events"


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def health() -> Call[bool]:
    return Call("GET", "/healthz", _ok)


def models() -> Call[list[Model]]:
    return Call("GET", "/models", _models)


def model(name: str) -> Call[Model]:
    return Call("GET", f"/models/{_segment(name)}", _parser(Model))


def delete_model(name: str) -> Call[None]:
    return Call("DELETE", f"/models/{_segment(name)}", _none, idempotent=False)


def train(body: dict[str, Any], *, wait: bool) -> Call[Any]:
    if wait:
        return Call("POST", "/train", _parser(Model), json=body, idempotent=False, long=True)
    return Call("POST", "/train", _parser(Job), json={**body, "wait": False}, idempotent=False)


def forecast(
    horizon: int, model: str, series: Sequence[float] | None, level: Sequence[float] | None
) -> Call[Forecast]:
    body = _compact(
        {
            "horizon": horizon,
            "model": model,
            "series": None if series is None else list(series),
            "level": None if level is None else list(level),
        }
    )
    # A forecast computes and changes nothing: safe to repeat.
    return Call("POST", "/forecast", _parser(Forecast), json=body)


def predict_next(window: Sequence[float], model: str) -> Call[Prediction]:
    body = {"window": list(window), "model": model}
    return Call("POST", "/predict-next", _parser(Prediction), json=body)


def series(name: str, horizon: int) -> Call[SeriesData]:
    return Call(
        "GET", f"/models/{_segment(name)}/series", _parser(SeriesData), params={"horizon": horizon}
    )


def plot_svg(name: str, horizon: int, width: int, height: int, history: int | None) -> Call[str]:
    params = _compact({"horizon": horizon, "width": width, "height": height, "history": history})
    return Call("GET", f"/models/{_segment(name)}/plot.svg", _text, params=params)


def jobs() -> Call[list[Job]]:
    return Call("GET", "/jobs", _jobs)


def job(job_id: str) -> Call[Job]:
    return Call("GET", f"/jobs/{_segment(job_id)}", _parser(Job))


def cancel_job(job_id: str) -> Call[Job]:
    return Call("DELETE", f"/jobs/{_segment(job_id)}", _parser(Job), idempotent=False)


def train_body(series: Sequence[float], model: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"series": list(series), "model": model, **_compact(options)}


class EventReader:
    """Reads Server-Sent Events line by line; `feed` returns a finished job, else None."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self._progress = progress
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> Job | None:
        if line.startswith(":"):
            return None
        if line:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                self._event = value
            elif field == "data":
                self._data.append(value)
            return None
        event, data = self._event, "\n".join(self._data)
        self._event, self._data = "message", []
        if not data:
            return None
        if event == "progress" and self._progress is not None:
            self._progress(Progress.model_validate_json(data))
        elif event == "status":
            job = Job.model_validate_json(data)
            if job.status in TERMINAL:
                return job
        return None


def check_deadline(deadline: float | None, job_id: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise WaitTimeoutError(f"job {job_id} did not finish within the timeout")


def succeeded(job: Job) -> Job:
    """`job` if it succeeded; else JobCancelledError or JobFailedError carrying it."""
    if job.status == "succeeded":
        return job
    if job.status == "cancelled":
        raise JobCancelledError(job)
    raise JobFailedError(job)
