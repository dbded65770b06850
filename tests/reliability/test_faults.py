"""Faults: a checkpoint that cannot be written, a training that raises or whose process dies,
and unloadable files at startup. The old version keeps serving, the client gets a documented
status whose message names the failure, and the next training works."""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import pickle
import signal
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

import app.forecasting.checkpoint as checkpoint_module
import app.store as store_module
from app.api.deps import service_of
from app.execution.local import _shared_pool
from app.forecasting.checkpoint import MAGIC, checkpoint_bytes, parse_checkpoint
from app.main import create_app
from tests.conftest import poll, wait_ready
from tests.reliability.conftest import store_fingerprint, tiny_settings, tiny_train_body


@pytest.fixture
def served(rel_store: Path) -> Iterator[TestClient]:
    """An app whose model "small" serves version 1."""
    with TestClient(create_app(tiny_settings(rel_store))) as client:
        wait_ready(client)
        first = client.post("/train", json=tiny_train_body("small"))
        assert first.status_code == 200, first.text
        yield client


def serves_version_1(client: TestClient, store: Path) -> None:
    assert client.get("/models/small").json()["version"] == 1
    forecast = client.post("/forecast", json={"model": "small", "horizon": 3})
    assert forecast.status_code == 200
    assert forecast.json()["version"] == 1
    assert (store / "small" / "CURRENT").read_text().strip() == "1"
    assert not list((store / "small").glob(".tmp-*"))


def next_training_publishes(client: TestClient, *, version: int) -> None:
    again = client.post("/train", json=tiny_train_body("small", seed=3))
    assert again.status_code == 200, again.text
    assert again.json()["version"] == version


def test_a_failed_checkpoint_write_is_507_and_the_old_version_serves(
    served: TestClient, rel_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_disk(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_module.os, "fsync", broken_disk)
        response = served.post("/train", json=tiny_train_body("small", seed=2))

    assert response.status_code == 507, response.text
    assert response.json()["error"] == "storage_error"
    message = response.json()["message"]
    assert "could not write checkpoint" in message
    assert "v000002.ckpt" in message
    assert "Input/output error" in message
    assert "previous version is still served" in message
    serves_version_1(served, rel_store)
    assert not (rel_store / "small" / "v000002.ckpt").exists()

    next_training_publishes(served, version=2)


def test_a_failed_marker_write_is_507_and_a_restart_serves_the_old_version(
    served: TestClient, rel_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = store_module.write_atomic

    def full_disk_for_markers(path: Path, data: bytes) -> None:
        if path.name == "CURRENT":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, data)

    with monkeypatch.context() as patch:
        patch.setattr(store_module, "write_atomic", full_disk_for_markers)
        response = served.post("/train", json=tiny_train_body("small", seed=2))

    assert response.status_code == 507, response.text
    assert "No space left on device" in response.json()["message"]
    serves_version_1(served, rel_store)
    with TestClient(create_app(tiny_settings(rel_store))) as restarted:
        wait_ready(restarted)
        serves_version_1(restarted, rel_store)
        # The orphaned v2 file is never served; the next training takes the next number.
        next_training_publishes(restarted, version=3)


def test_a_checkpoint_that_reads_back_changed_is_507_and_the_old_version_serves(
    served: TestClient, rel_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store serves the parse it verified before writing, so it proves the file holds
    those bytes: a disk that silently changes them is a failed write, not a served model."""
    real_write = store_module.write_atomic

    def flipping_disk(path: Path, data: bytes) -> None:
        if path.suffix == ".ckpt":
            data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
        real_write(path, data)

    with monkeypatch.context() as patch:
        patch.setattr(store_module, "write_atomic", flipping_disk)
        response = served.post("/train", json=tiny_train_body("small", seed=2))

    assert response.status_code == 507, response.text
    message = response.json()["message"]
    assert "v000002.ckpt did not read back as written" in message
    assert "previous version is still served" in message
    serves_version_1(served, rel_store)
    assert not (rel_store / "small" / "v000002.ckpt").exists()
    next_training_publishes(served, version=2)


def test_a_training_that_raises_is_500_naming_the_failure(
    served: TestClient, rel_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = service_of(served.app).executor
    before = store_fingerprint(rel_store)

    async def raising(*args: object) -> bytes:  # the training itself raises, in its process
        raise RuntimeError("CUDA kernel image missing (simulated)")

    with monkeypatch.context() as patch:
        patch.setattr(executor, "_run", raising)
        response = served.post("/train", json=tiny_train_body("small", seed=2))

    assert response.status_code == 500, response.text
    assert response.json()["error"] == "training_failed"
    message = response.json()["message"]
    assert "RuntimeError: CUDA kernel image missing (simulated)" in message
    assert "previous version is still served" in message
    serves_version_1(served, rel_store)
    assert store_fingerprint(rel_store) == before

    next_training_publishes(served, version=2)


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process so far, in clock ticks (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.mark.slow
def test_a_killed_training_process_is_500_and_the_next_training_works(
    rel_store: Path,
) -> None:
    """The worker process dies (SIGKILL) mid-training: across the process boundary."""
    settings = tiny_settings(rel_store, max_epochs=10_000, max_training_seconds=60.0)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.post("/train", json=tiny_train_body("small")).status_code == 200
        executor = service_of(client.app).executor
        long_body = tiny_train_body("small", epochs=10_000, batch_size=1, seed=2)
        responses: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: responses.append(client.post("/train", json=long_body))
        )
        thread.start()
        poll(lambda: executor.running, lambda n: n == 1, what="the training to start")
        # This executor's pool only: killing other pools' workers would break them for later
        # tests. Its one worker is the training's once it computes.
        workers = list(_shared_pool(executor.capacity)._processes)
        started = sum(cpu_ticks(pid) for pid in workers)
        poll(
            lambda: sum(cpu_ticks(pid) for pid in workers),
            lambda ticks: ticks > started,
            what="the training process to use CPU",
        )
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        thread.join(timeout=60)
        (response,) = responses
        assert response.status_code == 500, response.text
        message = response.json()["message"]
        assert "training process died" in message
        assert "nothing was published" in message
        serves_version_1(client, rel_store)

        next_training_publishes(client, version=2)


# ----- unloadable files at startup ---------------------------------------------------------


class _Exploit:
    """Unpickling this would create `marker`: proof that a loader ran pickled code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def _framed(header: bytes, payload: bytes) -> bytes:
    """A file in the checkpoint's framing with a valid checksum around any payload."""
    body = MAGIC + struct.pack("<Q", len(header)) + header + payload
    return body + hashlib.sha256(body).digest()


def _header_of(good: bytes) -> bytes:
    (length,) = struct.unpack_from("<Q", good, len(MAGIC))
    start = len(MAGIC) + 8
    return good[start : start + length]


@pytest.fixture
def damaged_store(rel_store: Path, tmp_path: Path) -> tuple[Path, Path]:
    """One model per kind of damage, each holding only that file; "fallback" has a good v1
    under a garbage v2 that CURRENT names. Returns (store, marker path)."""
    marker = tmp_path / "pickle-was-executed"
    good = (rel_store / "default" / "v000001.ckpt").read_bytes()
    buffer = io.BytesIO()
    torch.save({"series": _Exploit(marker)}, buffer)
    damage = {
        "truncated": good[: len(good) // 2],
        "zero-byte": b"",
        "garbage": os.urandom(4096),
        "plain-pickle": pickle.dumps(_Exploit(marker)),
        "pickle-in-checkpoint": _framed(_header_of(good), buffer.getvalue()),
    }
    for name, data in damage.items():
        directory = rel_store / name
        directory.mkdir()
        (directory / "v000001.ckpt").write_bytes(data)
        (directory / "CURRENT").write_text("1\n")
    fallback = rel_store / "fallback"
    fallback.mkdir()
    forecaster, metadata = parse_checkpoint(good)
    assert metadata is not None
    renamed = checkpoint_bytes(forecaster, replace(metadata, name="fallback", version=1))
    (fallback / "v000001.ckpt").write_bytes(renamed)
    (fallback / "v000002.ckpt").write_bytes(b"garbage")
    (fallback / "CURRENT").write_text("2\n")
    return rel_store, marker


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_unloadable_files_at_startup_are_skipped_and_named(
    damaged_store: tuple[Path, Path],
) -> None:
    store, marker = damaged_store
    records = _Records()
    logging.getLogger("app.store").addHandler(records)
    try:
        with TestClient(create_app(tiny_settings(store))) as client:
            wait_ready(client)
            names = [m["model"] for m in client.get("/models").json()["models"]]
            fallback = client.get("/models/fallback").json()
            assert client.get("/healthz").status_code == 200
    finally:
        logging.getLogger("app.store").removeHandler(records)

    assert names == ["default", "fallback"]
    assert fallback["version"] == 1  # the newest version that loads
    assert not marker.exists(), "a pickled object was executed"
    skipped = [line for line in records.lines if line.startswith("skipping unloadable")]
    for name in [
        "truncated",
        "zero-byte",
        "garbage",
        "plain-pickle",
        "pickle-in-checkpoint",
        "fallback",
    ]:
        path = store / name / ("v000002.ckpt" if name == "fallback" else "v000001.ckpt")
        assert any(str(path) in line for line in skipped), (name, skipped)
    assert any("pickle-in-checkpoint" in line and "safe loader" in line for line in skipped), (
        skipped
    )


def test_an_unexpected_error_is_a_500_that_names_it(
    rel_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (any exception the routes do not expect) still answers JSON naming the failure
    and the request id under which the server logged the traceback; never a bare 500."""
    app = create_app(tiny_settings(rel_store))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)

        def broken() -> list[object]:
            raise KeyError("simulated bug")

        monkeypatch.setattr(service_of(app).predictions, "models", broken)
        response = client.get("/models", headers={"X-Request-ID": "bug-1"})
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error"
        assert "KeyError" in response.json()["message"]
        assert "request id bug-1" in response.json()["message"]
        assert response.headers["x-request-id"] == "bug-1"
        monkeypatch.undo()
        assert client.get("/models").status_code == 200
