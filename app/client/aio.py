"""The asynchronous client: the same methods as ForecastClient, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from app.client import calls
from app.client.calls import Call, EventReader, ProgressCallback
from app.client.errors import ConnectionFailedError, error_from_response
from app.client.sync import DEFAULT_URL
from app.client.types import Forecast, Job, Model, Prediction, SeriesData

T = TypeVar("T")


class AsyncForecastClient:
    """ForecastClient's API for asyncio code (same arguments; `http_client` is an
    `httpx.AsyncClient`, for example one on `httpx.ASGITransport(app)`)."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        train_timeout: float = 600.0,
        retries: int = 2,
        backoff: float = 0.5,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout, self.train_timeout = timeout, train_timeout
        self.retries, self.backoff = retries, backoff
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport
        )

    async def close(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncForecastClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, call: Call[T]) -> T:
        # A client passed in keeps its own timeouts.
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if self._owned:
            timeout = self.train_timeout if call.long else self.timeout
        for attempt in range(self.retries + 1):
            last = attempt == self.retries or not call.idempotent
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=call.params,
                    headers=self._headers,
                    timeout=timeout,
                )
            except httpx.TransportError as error:
                if last:
                    raise ConnectionFailedError(f"{call.method} {call.path}: {error!r}") from error
            else:
                if response.status_code not in calls.RETRY_STATUSES or last:
                    if response.is_error:
                        raise error_from_response(response)
                    return call.parse(response)
            await asyncio.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    # ----- models and forecasts --------------------------------------------------------------

    async def health(self) -> bool:
        """True while the server answers /healthz."""
        return await self._send(calls.health())

    async def models(self) -> list[Model]:
        return await self._send(calls.models())

    async def model(self, name: str) -> Model:
        return await self._send(calls.model(name))

    async def delete_model(self, name: str) -> None:
        await self._send(calls.delete_model(name))

    async def forecast(
        self,
        horizon: int,
        *,
        model: str = "default",
        series: Sequence[float] | None = None,
        level: Sequence[float] | None = None,
    ) -> Forecast:
        return await self._send(calls.forecast(horizon, model, series, level))

    async def predict_next(self, window: Sequence[float], *, model: str = "default") -> Prediction:
        return await self._send(calls.predict_next(window, model))

    async def series(self, model: str, *, horizon: int = 0) -> SeriesData:
        return await self._send(calls.series(model, horizon))

    async def plot_svg(
        self,
        model: str,
        *,
        horizon: int = 40,
        width: int = 960,
        height: int = 400,
        history: int | None = None,
    ) -> str:
        return await self._send(calls.plot_svg(model, horizon, width, height, history))

    # ----- training and jobs -----------------------------------------------------------------

    async def train(
        self,
        series: Sequence[float],
        *,
        model: str,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Model:
        """Train and publish a model. Without `progress` one synchronous POST /train; with it, a
        background job whose progress is reported per epoch. `options` are /train's other fields
        (window_size, test_size, epochs, ...). Raises JobFailedError if the job fails."""
        body = calls.train_body(series, model, options)
        if progress is None:
            result: Model = await self._send(calls.train(body, wait=True))
            return result
        job: Job = await self._send(calls.train(body, wait=False))
        final = await self.wait_for_job(job.id, progress=progress, timeout=timeout)
        return calls.succeeded(final).model()

    async def start_training(self, series: Sequence[float], *, model: str, **options: Any) -> Job:
        """Queue a training as a background job (POST /train with wait=false)."""
        result: Job = await self._send(
            calls.train(calls.train_body(series, model, options), wait=False)
        )
        return result

    async def jobs(self) -> list[Job]:
        return await self._send(calls.jobs())

    async def job(self, job_id: str) -> Job:
        return await self._send(calls.job(job_id))

    async def cancel_job(self, job_id: str) -> Job:
        return await self._send(calls.cancel_job(job_id))

    async def wait_for_job(
        self,
        job_id: str,
        *,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        poll_interval: float = 1.0,
    ) -> Job:
        """Follow a job's events until it finishes and return it (whatever its final status);
        polls GET /jobs/{id} if the event stream breaks. Raises WaitTimeoutError after
        `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            job = await self._follow(job_id, progress, deadline)
            if job is not None:
                return job
        except httpx.TransportError:
            pass  # the stream broke: poll instead
        while True:
            job = await self.job(job_id)
            if job.finished:
                return job
            calls.check_deadline(deadline, job_id)
            if progress is not None and job.progress is not None:
                progress(job.progress)
            await asyncio.sleep(poll_interval)

    async def _follow(
        self, job_id: str, progress: ProgressCallback | None, deadline: float | None
    ) -> Job | None:
        reader = EventReader(progress)
        # Reads wait for the next event: the server pings every 15 s.
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if self._owned:
            timeout = httpx.Timeout(self.timeout, read=max(self.timeout, 60.0))
        headers = {**self._headers, "Accept": "text/event-stream"}
        async with self._http.stream(
            "GET", calls.events_path(job_id), headers=headers, timeout=timeout
        ) as response:
            if response.is_error:
                await response.aread()
                raise error_from_response(response)
            async for line in response.aiter_lines():
                job = reader.feed(line)
                if job is not None:
                    return job
                calls.check_deadline(deadline, job_id)
        return None
