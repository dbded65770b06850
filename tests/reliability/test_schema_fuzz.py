"""Schemathesis against the app's own OpenAPI schema, in process (ASGI), with every check.

Every operation in the schema is fuzzed, whoever added it, with positive and negative data
through the examples, coverage and fuzzing phases. All built-in checks run: no 5xx, responses
match their documented schema, status codes, content types and headers are documented, auth
is enforced where the schema declares it, unsupported methods get 405, invalid data is refused
and valid data accepted.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from app.main import create_app
from tests.reliability.conftest import API_KEY, tiny_settings

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40  # per operation, per generation mode (positive and negative)

# Valid-by-schema requests the service still refuses with a documented 4xx, because the rule
# spans fields or the model (window length == the model's window_size, series long enough for
# window_size + test_size, caps set in the server's settings): positive data may get 422.
POSITIVE_STATUSES = ["2xx", "401", "404", "409", "422", "429"]

# The schema is read at collection time, so the app exists then; its lifespan (which loads the
# store) starts at the first request, after `_seeded_store` has copied a trained store in.
_ROOT = Path(tempfile.mkdtemp(prefix="schema-fuzz-"))
app = create_app(
    tiny_settings(
        _ROOT / "store",
        api_key=API_KEY,
        api_key_reads=True,
        max_series_length=200,
        max_epochs=2,
        max_training_seconds=1.0,
    )
)
schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(app.openapi())),
    config=SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"HTTPBearer": {"bearer": API_KEY}}},
            "generation": {"max-examples": MAX_EXAMPLES},
            "request-timeout": 60,
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
        }
    ),
)
schema.app = app  # requests go to the app in process, as schemathesis.openapi.from_asgi does


@pytest.fixture(scope="module", autouse=True)
def _seeded_store(trained_store: Path) -> Iterator[None]:
    shutil.copytree(trained_store, _ROOT / "store")
    yield
    asgi.shutdown_lifespans()
    shutil.rmtree(_ROOT, ignore_errors=True)


CALLS: Counter[tuple[str, str]] = Counter()  # cases each operation answered to every check
SECONDS: Counter[tuple[str, str]] = Counter()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_operation_conforms_to_the_schema(case: schemathesis.Case) -> None:
    started = time.perf_counter()
    case.call_and_validate()
    operation = (case.operation.method.upper(), case.operation.path)
    CALLS[operation] += 1
    SECONDS[operation] += time.perf_counter() - started


def test_fuzzing_reached_every_operation() -> None:
    """Runs after the fuzzing above (file order): every operation in the schema was called,
    and every operation that takes a body got at least MAX_EXAMPLES cases."""
    if not CALLS:
        pytest.skip("runs together with the fuzzing tests above")
    schema_dict = app.openapi()
    declared = {
        (method.upper(), path): "requestBody" in operation
        for path, operations in schema_dict["paths"].items()
        for method, operation in operations.items()
    }
    for (method, path), count in sorted(CALLS.items()):
        print(f"{method:6} {path:32} {count:5} cases {SECONDS[method, path]:6.1f} s")
    missing = [op for op in declared if CALLS[op] == 0]
    assert not missing, f"operations never fuzzed: {missing}"
    starved = {op: CALLS[op] for op, has_body in declared.items() if has_body}
    assert all(n >= MAX_EXAMPLES for n in starved.values()), starved
