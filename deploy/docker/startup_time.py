#!/usr/bin/env python3
"""Seconds from `podman run` to the first 200 on /readyz, over several runs; and the image size.

    python3 deploy/docker/startup_time.py [IMAGE] [--runs 5] [--engine podman]

IMAGE defaults to the tag container-check builds (localhost/<directory>:container-check).
Each run starts a fresh container (the default model baked into the image), polls /readyz every
50 ms from the moment `podman run` is invoked, and removes the container. Standard library only.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (http only)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def one_run(engine: str, image: str, timeout: float) -> float:
    port = free_port()
    name = f"startup-time-{port}"
    url = f"http://127.0.0.1:{port}/readyz"
    started = time.monotonic()
    subprocess.run(
        [engine, "run", "-d", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:8000", image],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ready(url):
            if time.monotonic() - started > timeout:
                raise SystemExit(f"{url} did not answer 200 within {timeout:.0f} s")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_image = f"localhost/{Path.cwd().name}:container-check"
    parser.add_argument("image", nargs="?", default=default_image)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="podman")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    size = subprocess.run(
        [args.engine, "image", "inspect", "--format", "{{.Size}}", args.image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"image {args.image}: {int(size) / 1e6:.0f} MB ({int(size) / 2**20:.0f} MiB)")
    seconds = []
    for run in range(1, args.runs + 1):
        seconds.append(one_run(args.engine, args.image, args.timeout))
        print(f"run {run}: {seconds[-1]:.2f} s from `{args.engine} run` to 200 on /readyz")
        sys.stdout.flush()
    print(
        f"median {statistics.median(seconds):.2f} s "
        f"(min {min(seconds):.2f}, max {max(seconds):.2f}) over {len(seconds)} runs"
    )


if __name__ == "__main__":
    main()
