"""The command line against a live uvicorn server on a free loopback port."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.cli.csv_input import InputError, read_csv_series
from tests.conftest import wait_server_ready
from tests.e2e.conftest import ROOT, free_port, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[str]:
    store = tmp_path_factory.mktemp("cli") / "store"
    shutil.copytree(trained_store, store)
    with running_server(store, FORECAST_LOG_LEVEL="warning") as url:
        yield url


def cli(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "app"]
    if url is not None:
        command += ["--url", url]
    return subprocess.run(
        [*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def sales_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sales.csv"
    rows = [
        (f"2024-01-01T{h // 60:02d}:{h % 60:02d}:00", math.sin(h * 2 * math.pi / 12) + 0.01 * h)
        for h in range(120)
    ]
    path.write_text("timestamp,value\n" + "".join(f"{t},{v:.6f}\n" for t, v in rows))
    return path


def test_models_prints_a_table_or_json(server: str) -> None:
    table = cli("models", url=server)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:3] == ["MODEL", "VERSION", "CELL"]
    assert row.split()[:3] == ["default", "1", "lstm"]
    listed = json.loads(cli("models", "--format", "json", url=server).stdout)
    assert listed == httpx.get(f"{server}/models").json()["models"]


def test_train_a_csv_column_with_a_progress_bar(server: str, sales_csv: Path) -> None:
    result = cli(
        "train",
        str(sales_csv),
        "--model",
        "cli-sales",
        "--column",
        "value",
        "--window",
        "12",
        "--test-size",
        "12",
        "--epochs",
        "3",
        "--hidden-size",
        "8",
        "--promote",
        "always",
        url=server,
    )
    assert result.returncode == 0, result.stderr
    assert "training cli-sales on 120 values of value" in result.stderr
    # Not a terminal: one progress line per epoch (3 fit, 2 refit).
    bars = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [re.search(r"(re)?fit \d+/\d+", line).group(0) for line in bars] == [
        "fit 1/3",
        "fit 2/3",
        "fit 3/3",
        "refit 1/2",
        "refit 2/2",
    ]
    assert bars[-1].startswith("[" + "#" * 30 + "] 100%")
    assert "loss" in bars[0]
    assert "val" in bars[0]
    assert result.stdout.startswith("model cli-sales version 1: lstm, window 12, hidden 8")
    served = httpx.get(f"{server}/models/cli-sales").json()
    assert served["series_length"] == 120


def test_forecast_as_csv_json_and_table(server: str) -> None:
    expected = httpx.post(f"{server}/forecast", json={"horizon": 5}).json()["forecast"]
    as_csv = cli("forecast", "--model", "default", "--horizon", "5", "--format", "csv", url=server)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["step", "forecast"]
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5]
    assert [float(r[1]) for r in rows[1:]] == expected  # repr(): every digit survives

    as_json = cli("forecast", "--horizon", "5", "--format", "json", "--level", "80", url=server)
    body = json.loads(as_json.stdout)
    assert body["forecast"] == expected
    assert body["intervals"][0]["level"] == 80

    as_table = cli("forecast", "--horizon", "3", "--level", "80", "--level", "95", url=server)
    lines = as_table.stdout.splitlines()
    assert lines[0] == "model default version 1, 3 steps"
    assert lines[1].split() == ["step", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert len(lines) == 5


def test_errors_print_the_servers_message_and_exit_non_zero(server: str) -> None:
    missing = cli("forecast", "--model", "nope", "--horizon", "3", url=server)
    assert missing.returncode == 1
    assert "no model named 'nope'" in missing.stderr
    assert "model_not_found, HTTP 404" in missing.stderr
    assert missing.stdout == ""

    too_far = cli("forecast", "--horizon", "999999", url=server)
    assert too_far.returncode == 1
    assert "FORECAST_MAX_HORIZON" in too_far.stderr


def test_bad_input_files_exit_2_with_the_reason(server: str, tmp_path: Path) -> None:
    absent = cli("train", str(tmp_path / "absent.csv"), "--model", "x", url=server)
    assert absent.returncode == 2
    assert "cannot read" in absent.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n1\n2\nthree\n")
    refused = cli("train", str(bad), "--model", "x", "--column", "value", url=server)
    assert refused.returncode == 2
    assert "line 4, value: expected a number, got 'three'" in refused.stderr
    usage = cli("forecast", "--horizon", "0", url=server)
    assert usage.returncode == 2


def test_an_unreachable_server_exits_3() -> None:
    result = cli("models", url=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3
    assert "cannot reach" in result.stderr


def test_train_without_waiting_prints_the_job_and_jobs_lists_it(
    server: str, sales_csv: Path
) -> None:
    started = cli(
        "train",
        str(sales_csv),
        "--model",
        "cli-async",
        "--window",
        "12",
        "--test-size",
        "12",
        "--epochs",
        "2",
        "--no-wait",
        url=server,
    )
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.split()[1]
    assert started.stdout.endswith(f"{server}/jobs/{job_id}\n")
    listed = cli("jobs", url=server)
    assert job_id in listed.stdout
    cancelled = cli("cancel", job_id, url=server)
    # Cancelled, stopping, or already finished (409) in the meantime: never a crash.
    assert cancelled.returncode in (0, 1)
    if cancelled.returncode == 1:
        assert "only queued or running jobs can be cancelled" in cancelled.stderr


def test_serve_runs_the_server_on_the_given_port_and_store(
    tmp_path: Path, trained_store: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(trained_store, store)
    port = free_port()
    environment = {**os.environ, "FORECAST_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--store", str(store)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_server_ready(process, f"http://127.0.0.1:{port}")
        result = cli("models", url=f"http://127.0.0.1:{port}")
        assert result.stdout.splitlines()[1].split()[0] == "default"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "forecast-service"
    assert script.exists(), "pip install -e . creates it from [project.scripts]"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "forecast" in result.stdout


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("1\n2\n3\n", None, [1.0, 2.0, 3.0]),
        ("value\n1\n2\n", None, [1.0, 2.0]),
        ("time;value\n2024-01-01;1,5\n", None, None),  # decimal commas are not numbers
        ("t,a,b\nx,1,10\ny,2,20\n", None, [10.0, 20.0]),
        ("t,a,b\nx,1,10\ny,2,20\n", "a", [1.0, 2.0]),
        ("t,a,b\nx,1,10\ny,2,20\n", "2", [1.0, 2.0]),
        ("1\t5\n2\t6\n", "1", [1.0, 2.0]),
    ],
)
def test_reading_a_series_from_csv(
    tmp_path: Path, text: str, column: str | None, expected: list[float] | None
) -> None:
    path = tmp_path / "series.csv"
    path.write_text(text)
    if expected is None:
        with pytest.raises(InputError):
            read_csv_series(str(path), column)
    else:
        assert read_csv_series(str(path), column).values == expected


def test_unknown_columns_are_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    path.write_text("t,value\nx,1\n")
    with pytest.raises(InputError, match=r"no column 'sales'.*header names \['t', 'value'\]"):
        read_csv_series(str(path), "sales")


def test_progress_arrives_live_over_real_http(server: str) -> None:
    """Each epoch's event reaches the client while the job still runs (not all at the end)."""
    from app.client import ForecastClient, Progress

    series = [math.sin(i * 2 * math.pi / 24) + 0.001 * i for i in range(600)]
    statuses: list[str] = []
    with ForecastClient(server) as client, ForecastClient(server) as observer:
        job = client.start_training(
            series, model="live", window_size=12, hidden_size=8, test_size=24, epochs=40
        )

        def heard(progress: Progress) -> None:
            if progress.epoch == 1 and progress.phase == "fit":
                statuses.append(observer.job(job.id).status)

        final = client.wait_for_job(job.id, progress=heard, timeout=120)
    assert final.status == "succeeded"
    assert statuses == ["running"]
