"""The HTTP contract of intervals, timestamps, auto choices, the promotion gate, versions,
rollback and /backtest."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.forecasting import ModelConfig, TrainingConfig, fit
from app.forecasting.checkpoint import Checkpoint, checkpoint_bytes
from app.forecasting.metadata import VersionMetadata
from app.main import create_app
from app.settings import Settings
from app.store import ModelStore
from tests.conftest import finished_job, train_body, wait_ready

# A sine whose period (12.5) is not a whole number of steps: the seasonal naive forecast drifts,
# and a small LSTM beats both baselines within a few epochs (seed 0: MAE 0.011 after 20 epochs,
# 0.032 after 10, against 0.16 for the seasonal naive and 0.92 for the naive forecast).
DRIFTING = [math.sin(2 * math.pi * t / 12.5) for t in range(240)]


def gate_body(name: str, epochs: int, **overrides: Any) -> dict[str, Any]:
    """A training on DRIFTING left to the promotion gate (no `promote`: its default)."""
    gated = train_body(name, series=DRIFTING, season_length=12, epochs=epochs, seed=0, **overrides)
    return gated if "promote" in overrides else {k: v for k, v in gated.items() if k != "promote"}


# ----- intervals ---------------------------------------------------------------------------


def test_forecast_intervals_nest_widen_and_flag_extrapolation(client: TestClient) -> None:
    plain = client.post("/forecast", json={"horizon": 50}).json()
    assert plain["intervals"] is None
    response = client.post("/forecast", json={"horizon": 50, "level": [95, 80]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forecast"] == plain["forecast"]
    wide, narrow = body["intervals"]
    assert (wide["level"], narrow["level"]) == (95, 80)
    forecast = np.array(body["forecast"])
    for interval in (wide, narrow):
        lower, upper = np.array(interval["lower"]), np.array(interval["upper"])
        assert len(lower) == len(upper) == 50
        assert np.all(lower <= forecast)
        assert np.all(forecast <= upper)
        assert np.all(np.diff(upper - lower) >= -1e-12)
    assert np.all(np.array(wide["lower"]) <= np.array(narrow["lower"]))
    assert np.all(np.array(narrow["upper"]) <= np.array(wide["upper"]))
    calibration = body["calibration"]
    assert calibration["method"] == "split_conformal"
    assert calibration["calibration_horizon"] == 40  # the default model: test_size 40
    assert calibration["extrapolated_steps"] == 10
    assert calibration["min_errors_per_step"] >= 20
    assert "sqrt" in calibration["extrapolation"]


def test_intervals_follow_a_given_series(client: TestClient) -> None:
    history = [math.sin(x * 2 * 3.1416 / 40) + 5 for x in range(60)]
    body = client.post("/forecast", json={"horizon": 3, "series": history, "level": [80]}).json()
    interval = body["intervals"][0]
    widths = np.array(interval["upper"]) - np.array(body["forecast"])
    assert np.allclose(np.array(body["forecast"]) - np.array(interval["lower"]), widths)


@pytest.mark.parametrize(
    ("level", "fragment"),
    [([100], "less than 100"), ([0], "greater than 0"), ([], "at least 1 item"), (["80"], "")],
)
def test_bad_levels_are_refused(client: TestClient, level: list[object], fragment: str) -> None:
    response = client.post("/forecast", json={"horizon": 3, "level": level})
    assert response.status_code == 422
    assert fragment in response.json()["message"]


def test_a_model_without_calibration_errors_says_so(client: TestClient, store_dir: Path) -> None:
    series = np.sin(np.arange(80) * 0.4)
    config, training = ModelConfig(window_size=8, hidden_size=4), TrainingConfig(max_epochs=1)
    uncalibrated = fit(series, config, training, test_size=5, calibrate=False)  # like old files
    store = ModelStore(store_dir)
    data = checkpoint_bytes(uncalibrated, VersionMetadata("old", 1, "x"))
    store.publish("old", 1, Checkpoint.parse(data))
    assert client.post("/forecast", json={"model": "old", "horizon": 2}).status_code == 200
    response = client.post("/forecast", json={"model": "old", "horizon": 2, "level": [80]})
    assert response.status_code == 422
    assert "no calibration errors" in response.json()["message"]


# ----- timestamps --------------------------------------------------------------------------


def test_training_with_start_and_freq_dates_later_forecasts(client: TestClient) -> None:
    body = train_body("monthly", start="2010-01-01", freq="MS")
    trained = client.post("/train", json=body).json()
    assert trained["time_index"] == {
        "start": "2010-01-01",
        "freq": "MS",
        "length": 120,
        "date_only": True,
    }
    forecast = client.post("/forecast", json={"model": "monthly", "horizon": 3}).json()
    assert forecast["timestamps"] == ["2020-01-01", "2020-02-01", "2020-03-01"]
    # A given history without timestamps gets none; with them, its own continuation.
    history = [0.0] * 12
    assert (
        client.post("/forecast", json={"model": "monthly", "horizon": 2, "series": history}).json()[
            "timestamps"
        ]
        is None
    )
    hourly = [f"2024-03-10T{h:02d}:00:00Z" for h in range(12)]
    dated = client.post(
        "/forecast",
        json={"model": "monthly", "horizon": 2, "series": history, "timestamps": hourly},
    ).json()
    assert dated["timestamps"] == ["2024-03-10T12:00:00+00:00", "2024-03-10T13:00:00+00:00"]


def test_explicit_timestamps_infer_the_frequency(client: TestClient) -> None:
    days = [f"2024-01-{d:02d}" for d in range(1, 32)] + [f"2024-02-{d:02d}" for d in range(1, 30)]
    body = train_body("daily", series=[math.sin(i / 2) for i in range(60)], timestamps=days)
    assert client.post("/train", json=body).json()["time_index"]["freq"] == "D"
    forecast = client.post("/forecast", json={"model": "daily", "horizon": 2}).json()
    assert forecast["timestamps"] == ["2024-03-01", "2024-03-02"]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (
            {"timestamps": ["2024-01-01", "2024-01-02", "2024-01-04"] + ["2024-01-05"] * 117},
            "first gap is between timestamps[1] ('2024-01-02') and timestamps[2] ('2024-01-04')",
        ),
        (
            {"timestamps": ["2024-01-01", "2024-01-02", "2024-01-02"] + ["2024-01-05"] * 117},
            "timestamps[2] ('2024-01-02') repeats timestamps[1]",
        ),
        ({"timestamps": ["2024-01-01"] * 3}, "expected 120, got 3"),
        ({"start": "2024-01-01"}, "start needs freq"),
        ({"start": "2024-01-01", "freq": "fortnightly"}, "pandas-style alias"),
        ({"start": "2024-01-03", "freq": "MS"}, "first day of a month"),
        ({"start": "not a date", "freq": "D"}, "ISO-8601"),
        ({"freq": "D"}, "freq needs start"),
    ],
)
def test_bad_timestamps_are_refused_with_the_reason(
    client: TestClient, extra: dict[str, object], fragment: str
) -> None:
    response = client.post("/train", json=train_body("dated", **extra))
    assert response.status_code == 422, response.text
    assert fragment in response.json()["message"]
    assert client.get("/models/dated").status_code == 404


# ----- auto choices ------------------------------------------------------------------------


def test_window_and_season_default_to_auto_and_are_reported(client: TestClient) -> None:
    body = train_body("auto")
    del body["window_size"]
    trained = client.post("/train", json=body).json()
    assert trained["config"]["window_size"] == 12
    assert trained["choices"]["window_size"]["source"] == "auto"
    assert trained["choices"]["season_length"] == {
        "value": 12,
        "source": "auto",
        "reason": "autocorrelation peak at lag 12",
    }
    assert trained["metrics"]["season_length"] == 12
    assert trained["choices"]["difference"]["value"] == 0
    assert trained["config"]["difference"] is False
    given = client.post("/train", json=train_body("given", season_length=6)).json()
    assert given["choices"]["window_size"]["source"] == "given"
    assert given["choices"]["season_length"]["value"] == 6


def test_a_trending_series_is_differenced(client: TestClient) -> None:
    series = [0.05 * x + math.sin(x * 2 * math.pi / 12) for x in range(200)]
    trained = client.post("/train", json=train_body("trend", series=series)).json()
    assert trained["config"]["difference"] is True
    assert trained["choices"]["difference"]["value"] == 1
    assert "explains" in trained["choices"]["difference"]["reason"]
    body = train_body("levels", series=series, difference=False)
    assert client.post("/train", json=body).json()["config"]["difference"] is False


def test_the_default_model_keeps_its_configuration_under_auto(client: TestClient) -> None:
    # auto would pick window 12 and differencing for this series
    series = [0.05 * x + math.sin(x * 2 * math.pi / 12) for x in range(200)]
    body = {"series": series, "epochs": 1, "promote": "always", "test_size": 12}
    trained = client.post("/train", json=body).json()
    assert trained["config"]["window_size"] == 40
    assert trained["config"]["difference"] is False
    assert "default model keeps it" in trained["choices"]["window_size"]["reason"]
    refused = client.post("/train", json={**body, "difference": True})
    assert refused.status_code == 422
    assert "tutorial's configuration" in refused.json()["message"]


# ----- the promotion gate, versions and rollback ------------------------------------------


def test_a_model_worse_than_the_baselines_is_kept_but_not_served(client: TestClient) -> None:
    body = train_body("weak", epochs=1)
    del body["promote"]
    trained = client.post("/train", json=body).json()
    assert trained["version"] == 1
    assert trained["promotion"]["promoted"] is False
    assert trained["promotion"]["policy"] == "if_better"
    assert "baseline" in trained["promotion"]["reason"]
    assert trained["promotion"]["served_version"] is None
    missing = client.post("/forecast", json={"model": "weak", "horizon": 2})
    assert missing.status_code == 404
    assert "kept as candidates" in missing.json()["message"]
    versions = client.get("/models/weak/versions").json()
    assert versions["served_version"] is None
    assert [v["status"] for v in versions["versions"]] == ["candidate"]
    served = client.post("/models/weak/rollback", json={"version": 1}).json()
    assert (served["version"], served["previous_version"]) == (1, None)
    assert client.post("/forecast", json={"model": "weak", "horizon": 2}).status_code == 200


def test_the_gate_compares_with_the_serving_version(client: TestClient) -> None:
    first = client.post("/train", json=gate_body("gate", 20)).json()
    assert first["promotion"]["promoted"] is True, first["promotion"]
    assert "no version was being served" in first["promotion"]["reason"]
    second = client.post("/train", json=gate_body("gate", 10)).json()
    assert second["metrics"]["test_mae"] < second["metrics"]["seasonal_naive_mae"]
    assert second["promotion"]["promoted"] is False
    assert "worse than serving version 1" in second["promotion"]["reason"]
    assert second["promotion"]["served_version"] == 1
    assert client.get("/models/gate").json()["version"] == 1
    forced = client.post("/train", json=gate_body("gate", 10, promote="always")).json()
    assert forced["promotion"] == {
        "promoted": True,
        "policy": "always",
        "reason": "promote 'always': served without comparison",
        "served_version": 3,
    }
    statuses = [v["status"] for v in client.get("/models/gate/versions").json()["versions"]]
    assert statuses == ["retired", "candidate", "served"]


def test_if_better_needs_a_holdout(client: TestClient) -> None:
    body = train_body("noholdout", test_size=0, promote="if_better")
    response = client.post("/train", json=body)
    assert response.status_code == 422
    assert "needs test_size > 0" in response.json()["message"]
    del body["promote"]
    trained = client.post("/train", json=body).json()
    assert trained["promotion"]["policy"] == "always"


def test_rollback_serves_the_previous_version_then_any_kept_one(client: TestClient) -> None:
    for seed in (1, 2, 3):
        assert client.post("/train", json=train_body("roll", seed=seed)).status_code == 200
    forecast_v2 = client.post("/forecast", json={"model": "roll", "horizon": 4}).json()
    rolled = client.post("/models/roll/rollback")
    assert rolled.status_code == 200
    assert (rolled.json()["version"], rolled.json()["previous_version"]) == (2, 3)
    assert client.get("/models/roll").json()["version"] == 2
    again = client.post("/forecast", json={"model": "roll", "horizon": 4}).json()
    assert again["version"] == 2
    assert again["forecast"] != forecast_v2["forecast"]
    assert client.post("/models/roll/rollback", json={"version": 3}).json()["version"] == 3
    client.post("/models/roll/rollback", json={"version": 1})
    nothing_earlier = client.post("/models/roll/rollback")
    assert nothing_earlier.status_code == 409
    assert "no version older than the served version 1" in nothing_earlier.json()["message"]
    unknown = client.post("/models/roll/rollback", json={"version": 9})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "version_not_found"
    assert "kept versions: [1, 2, 3]" in unknown.json()["message"]
    assert client.post("/models/nobody/rollback").status_code == 404
    assert client.get("/models/nobody/versions").status_code == 404


def test_the_store_keeps_the_last_keep_versions(store_dir: Path) -> None:
    settings = Settings(model_store=store_dir, keep_versions=2)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        for seed in range(4):
            client.post("/train", json=train_body("pruned", seed=seed))
        listed = client.get("/models/pruned/versions").json()
        assert listed["keep_versions"] == 2
        assert [v["version"] for v in listed["versions"]] == [3, 4]
        assert listed["versions"][1]["metrics"]["test_size"] == 12
        assert listed["versions"][1]["promotion"]["policy"] == "always"
    assert sorted(p.name for p in (store_dir / "pruned").glob("*.ckpt")) == [
        "v000003.ckpt",
        "v000004.ckpt",
    ]


# ----- backtest ----------------------------------------------------------------------------


def test_backtest_reports_windows_and_baselines(client: TestClient) -> None:
    body = train_body("ignored", n_windows=3, horizon=6, step=4, start="2015-01-01", freq="MS")
    response = client.post("/backtest", json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    series = np.array(body["series"])
    assert [w["origin"] for w in report["windows"]] == [106, 110, 114]
    assert report["windows"][0]["origin_timestamp"] == "2023-11-01"
    assert report["trainings"] == 3
    assert report["season_length"] == 12
    assert set(report["aggregate"]) == {"model", "naive", "seasonal_naive"}
    for window in report["windows"]:
        origin = window["origin"]
        actual = series[origin : origin + 6]
        assert window["actual"] == pytest.approx(actual.tolist())
        naive_mae = float(np.mean(np.abs(actual - series[origin - 1])))
        assert window["scores"]["naive"]["mae"] == pytest.approx(naive_mae)
    mean_mase = np.mean([w["scores"]["model"]["mase"] for w in report["windows"]])
    assert report["aggregate"]["model"]["mase"] == pytest.approx(mean_mase)
    assert client.get("/models/ignored").status_code == 404  # nothing saved


def test_backtest_as_a_job_gives_the_same_report(client: TestClient) -> None:
    body = train_body(n_windows=2, horizon=5, refit=False)
    direct = client.post("/backtest", json=body).json()
    accepted = client.post("/backtest", json={**body, "wait": False})
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    assert location == f"/jobs/{accepted.json()['id']}"
    job = finished_job(client, accepted.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "backtest"
    assert job["result"]["aggregate"] == direct["aggregate"]  # same seed, same windows


def test_backtest_without_refit_trains_once(client: TestClient) -> None:
    body = train_body(n_windows=2, horizon=5, refit=False)
    report = client.post("/backtest", json=body).json()
    assert report["trainings"] == 1
    assert [w["epochs"] > 0 for w in report["windows"]] == [True, False]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"n_windows": 21, "horizon": 2}, "less than or equal to 20"),
        ({"n_windows": 20, "horizon": 10}, "series needs at least"),
        ({"n_windows": 3, "horizon": 2001}, "at most 2000"),
        ({"n_windows": 3, "horizon": 2, "epochs": 400}, "epochs x trainings may be at most"),
        ({"horizon": 0}, "greater than or equal to 1"),
    ],
)
def test_backtest_bounds(client: TestClient, overrides: dict[str, object], fragment: str) -> None:
    response = client.post("/backtest", json=train_body(**overrides))
    assert response.status_code == 422, response.text
    assert fragment in response.json()["message"]
