"""The Dockerfile and .dockerignore, read statically; the image's HEALTHCHECK command and the
smoke script, run against a real server process."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.dockerfile import ROOT, final_stage, instructions, stages
from tests.e2e.conftest import free_port, running_server


def test_both_stages_build_on_python_311_slim() -> None:
    assert [stage.base for stage in stages()] == ["python:3.11-slim", "python:3.11-slim"]
    assert stages()[0].name == "builder"


def test_torch_comes_from_the_cpu_index_as_an_extra_index_that_a_build_arg_replaces() -> None:
    builder = stages()[0]
    assert "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in builder.values("ARG")
    installs = [run for run in builder.values("RUN") if "-r requirements.txt" in run]
    assert len(installs) == 1
    # --index-url would drop PyPI (torch's own dependencies) and any local wheel.
    assert '--extra-index-url "$TORCH_INDEX_URL"' in installs[0]
    assert "--index-url" not in installs[0].replace("--extra-index-url", "")


def test_the_runtime_stage_is_small_and_runs_one_worker_as_a_non_root_user() -> None:
    final = final_stage()
    user = final.values("USER")[-1]
    assert user.split(":")[0] not in {"0", "root"}
    assert final.values("EXPOSE") == ["8000"]
    assert final.values("VOLUME") == ['["/model_store"]']
    copies = final.values("COPY")
    assert all(copy.startswith("--from=builder") for copy in copies)  # nothing from the context
    assert any(
        copy.endswith("/model_store /model_store") and "--chown=10001" in copy for copy in copies
    )
    assert not any(token in run for run in final.values("RUN") for token in ("apt-get", "pip"))
    command = json.loads(final.values("CMD")[-1])
    assert command[:3] == ["uvicorn", "--factory", "app.main:create_app"]
    workers = command[command.index("--workers") + 1] if "--workers" in command else "1"
    assert workers == "1"


def test_the_healthcheck_needs_no_curl() -> None:
    (healthcheck,) = final_stage().values("HEALTHCHECK")
    assert "curl" not in healthcheck
    assert "wget" not in healthcheck
    assert json.loads(healthcheck.partition("CMD ")[2])[0] == "python"


def test_the_parser_joins_continuations_and_drops_comments() -> None:
    text = 'FROM a AS b\n# note\nRUN one \\\n  # inner\n  two\nCMD ["x"]\n'
    assert instructions(text) == [("FROM", "a AS b"), ("RUN", "one two"), ("CMD", '["x"]')]


# ----- .dockerignore ---------------------------------------------------------------------------


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        body = body.removeprefix("**/")
        if any(
            fnmatch.fnmatchcase(prefix, body) or fnmatch.fnmatchcase(prefix.split("/")[-1], body)
            if pattern.lstrip("!").startswith("**/")
            else fnmatch.fnmatchcase(prefix, body)
            for prefix in prefixes
        ):
            result = not negated
    return result


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        "tests/conftest.py",
        ".venv/bin/python",
        "model_store/default/CURRENT",
        "bench/core.py",
        "docs/deployment.md",
        "app/__pycache__/main.cpython-311.pyc",
        ".mypy_cache/x",
        "deploy/kubernetes/deployment.yaml",
        "Dockerfile",
    ],
)
def test_the_build_context_leaves_out(path: str) -> None:
    assert ignored(path, dockerignore())


def test_the_build_context_holds_everything_the_dockerfile_copies() -> None:
    sources = []
    for stage in stages():
        for copy in stage.values("COPY"):
            if "--from=" not in copy:
                sources += [t for t in copy.split()[:-1] if not t.startswith("--")]
    assert sources  # the builder copies from the context
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else list(path.rglob("*.py"))
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            assert not ignored(relative, dockerignore()), relative


# ----- the HEALTHCHECK command and the smoke script against a real server ---------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[str]:
    store = tmp_path_factory.mktemp("deploy") / "store"
    shutil.copytree(trained_store, store)
    with running_server(store) as base_url:
        yield base_url


def healthcheck_command(port: int) -> list[str]:
    (healthcheck,) = final_stage().values("HEALTHCHECK")
    command = json.loads(healthcheck.partition("CMD ")[2])
    assert command[0] == "python"
    assert "127.0.0.1:8000/" in command[-1]
    return [sys.executable, *command[1:-1], command[-1].replace(":8000/", f":{port}/")]


@pytest.mark.e2e
def test_the_healthcheck_passes_on_a_ready_server_and_fails_without_one(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    assert subprocess.run(healthcheck_command(port), capture_output=True).returncode == 0
    failed = subprocess.run(healthcheck_command(free_port()), capture_output=True)
    assert failed.returncode != 0


@pytest.mark.e2e
def test_the_smoke_script_passes_against_a_real_server(server: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "smoke.py"), server],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("POST /train", "POST /forecast", "POST /predict-next", "GET /docs", "DELETE"):
        assert step in result.stdout
    assert "smoke test passed" in result.stdout


@pytest.mark.e2e
def test_the_smoke_script_fails_clearly_without_a_server() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "smoke.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"BASE_URL": f"http://127.0.0.1:{free_port()}"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("FAIL")
