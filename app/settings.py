"""The service's one typed configuration, read from FORECAST_* environment variables."""

from __future__ import annotations

import math
import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service. Built once and passed into `create_app(settings)`."""

    model_config = SettingsConfigDict(env_prefix="FORECAST_", extra="ignore")

    model_store: Path = Field(Path("model_store"), description="Directory holding trained models.")
    max_series_length: int = Field(100_000, ge=2, description="Most values a series may hold.")
    max_horizon: int = Field(10_000, ge=1, description="Most steps one forecast may ask for.")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest request body.")
    torch_threads: int | None = Field(
        None, ge=1, description="Torch threads per activity; default: the container's CPU limit."
    )
    max_epochs: int = Field(1000, ge=1, description="Most epochs one /train may ask for.")
    max_training_seconds: float = Field(120.0, gt=0, description="Time budget of one training.")
    max_concurrent_trainings: int = Field(2, ge=1, description="Trainings running at once.")
    keep_versions: int = Field(5, ge=1, description="Checkpoint versions kept per model.")
    max_jobs: int = Field(16, ge=1, description="Background jobs queued or running at once.")
    job_retention_seconds: float = Field(
        3600.0, gt=0, description="How long a finished background job stays readable."
    )
    max_finished_jobs: int = Field(100, ge=1, description="Most finished jobs kept in memory.")
    api_key: SecretStr | None = Field(None, description="Bearer key required for /train, DELETE.")
    api_key_reads: bool = Field(False, description="Require the key on reading endpoints too.")
    default_max_epochs: int | None = Field(
        None, ge=1, description="Epoch cap of the built-in default model (None: auto-planned)."
    )
    default_seed: int = Field(0, ge=0, description="Seed of the built-in default model.")
    log_level: str = Field("info", description="Logging level.")

    def resolved_torch_threads(self) -> int:
        return self.torch_threads or cpu_limit()


def cpu_limit() -> int:
    """CPUs this process may use: the cgroup quota if one is set, else the affinity mask."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = available or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def _cgroup_quota(
    root: Path = Path("/sys/fs/cgroup"), membership: Path = Path("/proc/self/cgroup")
) -> float | None:
    """CPU quota in cores, None if unlimited: the smallest cgroup v2 `cpu.max` or v1
    `cpu.cfs_quota_us` of this process's cgroup and its ancestors. With a private cgroup
    namespace (the container default) that is the mount root; without one (host namespace,
    systemd slices) the limit sits in the process's own directory or above it."""
    paths = _cgroup_paths(membership)
    quotas = [_v2_quota(d) for d in _lineage(root, paths.get("", "/"))]
    quotas += [_v1_quota(d) for d in _lineage(root / "cpu", paths.get("cpu", "/"))]
    found = [quota for quota in quotas if quota is not None]
    return min(found) if found else None


def _cgroup_paths(membership: Path) -> dict[str, str]:
    """Controller -> cgroup path from /proc/self/cgroup; "" is cgroup v2's unified hierarchy."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return {}
    paths: dict[str, str] = {}
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) == 3:
            for controller in fields[1].split(","):
                paths[controller] = fields[2]
    return paths


def _lineage(mount: Path, path: str) -> list[Path]:
    """The mount root, then the cgroup directory at `path` and its ancestors below the root."""
    directories = [mount]
    parts = [part for part in path.split("/") if part]
    if ".." in parts:  # outside our cgroup namespace: not visible here
        return directories
    for depth in range(len(parts), 0, -1):
        directories.append(mount.joinpath(*parts[:depth]))
    return directories


def _v2_quota(directory: Path) -> float | None:
    try:
        fields = (directory / "cpu.max").read_text().split()
        return int(fields[0]) / int(fields[1]) if fields[0] != "max" else None
    except (OSError, ValueError, IndexError, ZeroDivisionError):
        return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
