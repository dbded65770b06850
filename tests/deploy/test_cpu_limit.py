"""Torch threads follow the container's CPU limit (cgroup quota), not the host's core count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

import app.settings as settings_module
from app.api.deps import service_of
from app.main import create_app
from app.settings import Settings, _cgroup_quota, cpu_limit
from tests.conftest import wait_ready


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def quota(tmp_path: Path, membership: str) -> float | None:
    write(tmp_path / "proc-self-cgroup", membership)
    return _cgroup_quota(tmp_path / "cgroup", tmp_path / "proc-self-cgroup")


def test_v2_with_a_private_namespace_reads_the_mount_root(tmp_path: Path) -> None:
    write(tmp_path / "cgroup" / "cpu.max", "150000 100000\n")
    assert quota(tmp_path, "0::/\n") == 1.5


def test_v2_without_a_limit_is_unlimited(tmp_path: Path) -> None:
    write(tmp_path / "cgroup" / "cpu.max", "max 100000\n")
    assert quota(tmp_path, "0::/\n") is None


def test_v2_in_the_host_namespace_reads_the_own_cgroup_and_its_ancestors(tmp_path: Path) -> None:
    pod = tmp_path / "cgroup" / "kubepods.slice" / "pod1"
    write(pod / "cpu.max", "200000 100000\n")  # the pod's limit
    write(pod / "ctr" / "cpu.max", "max 100000\n")  # the container's own: none
    assert quota(tmp_path, "0::/kubepods.slice/pod1/ctr\n") == 2.0
    write(pod / "ctr" / "cpu.max", "50000 100000\n")  # the smallest limit wins
    assert quota(tmp_path, "0::/kubepods.slice/pod1/ctr\n") == 0.5


def test_v1_reads_cfs_quota_over_period(tmp_path: Path) -> None:
    cpu = tmp_path / "cgroup" / "cpu"
    write(cpu / "cpu.cfs_quota_us", "100000\n")
    write(cpu / "cpu.cfs_period_us", "100000\n")
    # Docker on v1 mounts the container's own cgroup at the root; /proc shows the host path.
    membership = "4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n0::/docker/abc\n"
    assert quota(tmp_path, membership) == 1.0
    write(cpu / "cpu.cfs_quota_us", "-1\n")
    assert quota(tmp_path, membership) is None


def test_v1_in_the_host_namespace_reads_the_own_cgroup(tmp_path: Path) -> None:
    own = tmp_path / "cgroup" / "cpu" / "system.slice" / "svc"
    write(own / "cpu.cfs_quota_us", "300000\n")
    write(own / "cpu.cfs_period_us", "100000\n")
    assert quota(tmp_path, "2:cpu,cpuacct:/system.slice/svc\n") == 3.0


@pytest.mark.parametrize("content", ["", "garbage", "100000", "100000 0", "-5 x", "max"], ids=repr)
def test_unreadable_limits_count_as_unlimited(tmp_path: Path, content: str) -> None:
    write(tmp_path / "cgroup" / "cpu.max", content)
    assert quota(tmp_path, "0::/\n") is None


def test_nothing_mounted_or_paths_outside_the_namespace_count_as_unlimited(tmp_path: Path) -> None:
    assert quota(tmp_path, "0::/\n") is None
    assert _cgroup_quota(tmp_path / "none", tmp_path / "no-such-file") is None
    write(tmp_path / "cpu.max", "100000 100000\n")  # above the mount root: never read
    assert quota(tmp_path, "0::/../..\n") is None


@given(
    limit=st.integers(min_value=1000, max_value=10**7),
    period=st.integers(min_value=1000, max_value=10**6),
)
def test_v2_quota_is_the_ratio(
    tmp_path_factory: pytest.TempPathFactory, limit: int, period: int
) -> None:
    root = tmp_path_factory.mktemp("cg")
    write(root / "cgroup" / "cpu.max", f"{limit} {period}\n")
    assert quota(root, "0::/\n") == limit / period


@pytest.mark.parametrize(
    ("limit", "expected"), [(0.5, 1), (1.0, 1), (1.9, 1), (2.0, 2), (None, None), (1e6, None)]
)
def test_cpu_limit_is_the_whole_cores_of_the_quota_within_the_affinity(
    monkeypatch: pytest.MonkeyPatch, limit: float | None, expected: int | None
) -> None:
    monkeypatch.setattr(settings_module, "_cgroup_quota", lambda: limit)
    available = len(os.sched_getaffinity(0))
    assert cpu_limit() == (min(expected, available) if expected is not None else available)


def test_forecast_torch_threads_overrides_the_cgroup_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "_cgroup_quota", lambda: 1.0)
    assert Settings().resolved_torch_threads() == 1
    monkeypatch.setenv("FORECAST_TORCH_THREADS", "3")
    assert Settings().resolved_torch_threads() == 3


@pytest.mark.parametrize(
    ("threads", "trainings", "per_training"), [(4, 2, 2), (1, 2, 1), (5, 2, 2)]
)
def test_trainings_share_the_threads(
    store_dir: Path, threads: int, trainings: int, per_training: int
) -> None:
    app = create_app(
        Settings(model_store=store_dir, torch_threads=threads, max_concurrent_trainings=trainings)
    )
    with TestClient(app) as client:
        wait_ready(client)
        assert service_of(app).limits.training_threads == per_training
