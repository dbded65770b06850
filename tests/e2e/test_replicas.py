"""Scale-out: several uvicorn processes (replicas) on different ports sharing one model store.

The store on disk is the source of truth: after a /train answered by one replica, the others
serve that version on their next request, and two replicas never train one name at once.
"""

from __future__ import annotations

import math
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import train_body
from tests.e2e.conftest import running_server

pytestmark = pytest.mark.e2e


@contextmanager
def replicas(store: Path, count: int = 2, **env: str) -> Iterator[list[httpx.Client]]:
    """`count` servers on one store, started at the same moment; one client each."""
    managers = [running_server(store, **env) for _ in range(count)]
    with ExitStack() as stack:
        with ThreadPoolExecutor(count) as pool:
            futures = [(pool.submit(m.__enter__), m) for m in managers]
        errors = []
        urls = []
        for future, manager in futures:
            try:
                urls.append(future.result())
                stack.push(manager.__exit__)
            except Exception as error:  # the started ones are still stopped by the stack
                errors.append(error)
        if errors:
            raise errors[0]
        clients = [stack.enter_context(httpx.Client(base_url=u, timeout=120)) for u in urls]
        yield clients


def forecast(client: httpx.Client, name: str) -> dict[str, object]:
    response = client.post("/forecast", json={"model": name, "horizon": 6})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, trained_store: Path
) -> Iterator[list[httpx.Client]]:
    store = tmp_path_factory.mktemp("replicas") / "store"
    shutil.copytree(trained_store, store)
    with replicas(store) as clients:
        yield clients


def test_a_training_on_one_replica_is_served_by_the_other(pair: list[httpx.Client]) -> None:
    first, second = pair
    trained = first.post("/train", json=train_body("shared"))
    assert trained.status_code == 200, trained.text
    assert trained.json()["version"] == 1
    on_second = forecast(second, "shared")
    assert on_second["version"] == 1
    assert on_second["forecast"] == forecast(first, "shared")["forecast"]  # the same weights

    retrained = second.post("/train", json=train_body("shared", seed=2))
    assert retrained.status_code == 200, retrained.text
    assert retrained.json()["version"] == 2
    assert forecast(first, "shared")["version"] == 2
    window = {"model": "shared", "window": [math.sin(i / 2) for i in range(12)]}
    answers = [client.post("/predict-next", json=window).json() for client in pair]
    assert answers[0] == answers[1]
    assert answers[0]["version"] == 2
    assert "shared" in {m["model"] for m in first.get("/models").json()["models"]}

    # A rollback is a publish of an older version: the disk decides, so it reaches the other.
    rolled_back = first.post("/models/shared/rollback", json={"version": 1})
    assert rolled_back.status_code == 200, rolled_back.text
    assert forecast(second, "shared")["version"] == 1

    assert second.delete("/models/shared").status_code == 204
    gone = first.post("/forecast", json={"model": "shared", "horizon": 6})
    assert gone.status_code == 404
    assert gone.json()["error"] == "model_not_found"


def test_concurrent_trainings_of_one_name_let_exactly_one_proceed(pair: list[httpx.Client]) -> None:
    # Long enough that the first holds the store's lock when the second arrives.
    body = train_body("contended", length=600, epochs=15)
    start = threading.Barrier(len(pair))

    def train(client: httpx.Client) -> httpx.Response:
        start.wait()
        return client.post("/train", json=body)

    with ThreadPoolExecutor(len(pair)) as pool:
        responses = list(pool.map(train, pair))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.text[:200] for r in responses]
    (refused,) = [r for r in responses if r.status_code == 409]
    assert refused.json()["error"] == "training_in_progress"
    assert "already being trained" in refused.json()["message"]
    (winner,) = [r for r in responses if r.status_code == 200]
    for client in pair:
        assert forecast(client, "contended")["version"] == winner.json()["version"] == 1


def test_replicas_starting_on_an_empty_store_train_the_default_model_once(tmp_path: Path) -> None:
    store = tmp_path / "empty-store"
    with replicas(store, FORECAST_DEFAULT_MAX_EPOCHS="1") as clients:
        # running_server waited for /readyz: the replica that lost the race did not stay unready.
        versions = [forecast(client, "default")["version"] for client in clients]
    assert versions == [1, 1]
    assert sorted(p.name for p in (store / "default").glob("v*.ckpt")) == ["v000001.ckpt"]
