"""A real `uvicorn --factory app.main:create_app` (one worker) on loopback for the load and
soak benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        """Resident set size of the server process (not its training workers), in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")


@contextmanager
def serve(store: Path, workdir: Path, **env: str) -> Iterator[Server]:
    """Start uvicorn (one worker) on a free loopback port; wait until /readyz says 200."""
    port = free_port()
    log = workdir / f"server-{port}.log"
    environment = {**os.environ, "FORECAST_MODEL_STORE": str(store), **env}
    executable = [str(UVICORN)] if UVICORN.exists() else [sys.executable, "-m", "uvicorn"]
    with log.open("wb") as stderr:
        app = ["--factory", "app.main:create_app", "--host", "127.0.0.1", "--port", str(port)]
        options = ["--workers", "1", "--log-level", "warning", "--no-access-log"]
        process = subprocess.Popen(
            [*executable, *app, *options],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready in 600 s")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prepare_store(workdir: Path, default_epochs: int = 20) -> Path:
    """A store whose default model (the tutorial's LSTM) is trained once, by the app itself.

    Inference cost does not depend on how long the model trained, so a short training is
    enough; it is reused from `workdir/seed-store` when present.
    """
    seed = workdir / "seed-store"
    if not (seed / "default" / "CURRENT").exists():
        shutil.rmtree(seed, ignore_errors=True)
        seed.mkdir(parents=True)
        with serve(seed, workdir, FORECAST_DEFAULT_MAX_EPOCHS=str(default_epochs)):
            pass
    store = workdir / "store"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(seed, store)
    return store
