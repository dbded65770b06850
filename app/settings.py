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
    max_batch_series: int = Field(64, ge=1, description="Most series in one batched forecast.")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest request body.")
    torch_threads: int | None = Field(
        None, ge=1, description="Torch threads per activity; default: the container's CPU limit."
    )
    max_epochs: int = Field(1000, ge=1, description="Most epochs one /train may ask for.")
    max_training_seconds: float = Field(120.0, gt=0, description="Time budget of one training.")
    max_concurrent_trainings: int = Field(2, ge=1, description="Trainings running at once.")
    keep_versions: int = Field(5, ge=1, description="Checkpoint versions kept per model.")
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


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPU quota in cores from cgroup v2 `cpu.max` or v1 `cpu.cfs_quota_us`, None if unlimited."""
    try:
        fields = (root / "cpu.max").read_text().split()
        if fields and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None
