"""FORECAST_API_KEY: writes need the bearer key, reads only with FORECAST_API_KEY_READS; the
comparison is constant-time; the schema (and so the docs page) shows the scheme."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app.api.deps as deps
from app.main import create_app
from tests.conftest import wait_ready
from tests.reliability.conftest import API_KEY, AUTH, tiny_settings, tiny_train_body

WINDOW = {"window": [0.1] * 40}
READS = [
    ("GET", "/models", None),
    ("GET", "/models/default", None),
    ("POST", "/predict-next", WINDOW),
    ("POST", "/forecast", {"horizon": 3}),
    ("GET", "/metrics", None),
]
BAD_CREDENTIALS = [
    ({}, "got no bearer token"),
    ({"Authorization": "Bearer wrong-key"}, "got a different key"),
    ({"Authorization": f"Bearer {API_KEY}x"}, "got a different key"),
    ({"Authorization": f"Basic {API_KEY}"}, "got no bearer token"),
    ({"Authorization": API_KEY}, "got no bearer token"),
]


@pytest.fixture
def keyed(rel_store: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tiny_settings(rel_store, api_key=API_KEY))) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def keyed_reads(rel_store: Path) -> Iterator[TestClient]:
    settings = tiny_settings(rel_store, api_key=API_KEY, api_key_reads=True)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


@pytest.mark.parametrize(("headers", "fragment"), BAD_CREDENTIALS)
def test_training_without_the_key_is_401(
    keyed: TestClient, rel_store: Path, headers: dict[str, str], fragment: str
) -> None:
    response = keyed.post("/train", json=tiny_train_body("guarded"), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    assert "Authorization: Bearer <key>" in response.json()["message"]
    assert fragment in response.json()["message"]
    assert not (rel_store / "guarded").exists()


def test_training_and_deleting_with_the_key(keyed: TestClient, rel_store: Path) -> None:
    trained = keyed.post("/train", json=tiny_train_body("guarded"), headers=AUTH)
    assert trained.status_code == 200, trained.text

    refused = keyed.delete("/models/guarded", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert keyed.get("/models/guarded").status_code == 200
    assert (rel_store / "guarded").exists()

    assert keyed.delete("/models/guarded", headers=AUTH).status_code == 204
    assert keyed.get("/models/guarded").status_code == 404


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_reads_stay_open_by_default(
    keyed: TestClient, method: str, path: str, body: object
) -> None:
    assert keyed.request(method, path, json=body).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_reads_need_the_key_with_api_key_reads(
    keyed_reads: TestClient, method: str, path: str, body: object
) -> None:
    refused = keyed_reads.request(method, path, json=body)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    assert keyed_reads.request(method, path, json=body, headers=AUTH).status_code == 200


@pytest.mark.parametrize(("headers", "fragment"), BAD_CREDENTIALS)
@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_every_read_refuses_bad_credentials_alike(
    keyed_reads: TestClient,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
    fragment: str,
) -> None:
    """/predict-next and /forecast check the key themselves (deps.reading_service); they
    must answer exactly as the routes behind FastAPI's HTTPBearer do."""
    refused = keyed_reads.request(method, path, json=body, headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert fragment in refused.json()["message"]
    reference = keyed_reads.get("/models", headers=headers)
    assert refused.json() == reference.json()


def test_health_stays_open_with_api_key_reads(keyed_reads: TestClient) -> None:
    assert keyed_reads.get("/healthz").status_code == 200
    assert keyed_reads.get("/readyz").status_code == 200


def test_without_a_key_everything_is_open(rel_store: Path) -> None:
    with TestClient(create_app(tiny_settings(rel_store, api_key_reads=True))) as client:
        wait_ready(client)
        assert client.post("/train", json=tiny_train_body("open")).status_code == 200
        assert client.get("/models/open").status_code == 200
        assert client.delete("/models/open").status_code == 204


def test_the_key_is_compared_in_constant_time(
    keyed: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = secrets.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(deps.secrets, "compare_digest", spy)
    keyed.post("/train", json={}, headers={"Authorization": "Bearer guess"})
    assert compared == [(b"guess", API_KEY.encode())]


def test_the_schema_and_docs_show_the_bearer_scheme(keyed: TestClient) -> None:
    schema = keyed.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["HTTPBearer"]["description"],
    }
    assert (
        "FORECAST_API_KEY" in schema["components"]["securitySchemes"]["HTTPBearer"]["description"]
    )
    for path, method in [("/train", "post"), ("/models/{name}", "delete")]:
        assert {"HTTPBearer": []} in schema["paths"][path][method]["security"]
        assert "401" in schema["paths"][path][method]["responses"]
    assert "openapi.json" in keyed.get("/docs").text
