"""The dashboard page, its static files, /models/{name}/series and /models/{name}/plot.svg."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app

STATIC = Path(app.__file__).parent / "static"
SVG = "{http://www.w3.org/2000/svg}"


class Controls(HTMLParser):
    """Collects form controls and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labelled: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(str(attributes["id"]))
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.controls.append(str(attributes.get("id")))
        if tag == "label" and attributes.get("for"):
            self.labelled.add(str(attributes["for"]))


def test_the_page_is_served_with_a_strict_policy_and_its_own_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_nothing_is_loaded_from_elsewhere() -> None:
    """Works offline: no CDN, no external URL in the page, its script or its styles."""
    for path in STATIC.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            urls = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
            assert not urls, f"{path.name} refers to {urls}"


def test_every_control_has_a_label_and_ids_are_unique() -> None:
    parser = Controls()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert parser.controls
    assert set(parser.controls) <= parser.labelled, set(parser.controls) - parser.labelled
    assert len(parser.ids) == len(set(parser.ids))


def test_the_series_endpoint_holds_the_tutorial_picture(client: TestClient) -> None:
    model = client.get("/models/default").json()
    data = client.get("/models/default/series", params={"horizon": 7}).json()
    assert data["model"] == "default"
    assert data["version"] == model["version"]
    assert len(data["series"]) == model["series_length"]
    holdout = data["holdout"]
    test_size = model["metrics"]["test_size"]
    assert holdout["start"] == len(data["series"]) - test_size
    assert holdout["actual"] == data["series"][holdout["start"] :]
    assert len(holdout["forecast"]) == test_size
    # The holdout forecast is the one the holdout MSE was computed from.
    mse = sum((f - a) ** 2 for f, a in zip(holdout["forecast"], holdout["actual"], strict=True))
    assert mse / test_size == pytest.approx(model["metrics"]["test_mse"], rel=1e-9)
    # The future forecast is POST /forecast's.
    forecast = client.post("/forecast", json={"horizon": 7}).json()["forecast"]
    assert data["forecast"] == pytest.approx(forecast, abs=1e-12)
    for band in data["bands"]:
        assert all(
            lo <= f <= hi
            for lo, f, hi in zip(band["lower"], data["forecast"], band["upper"], strict=True)
        )
    if len(data["bands"]) == 2:
        narrow, wide = sorted(data["bands"], key=lambda b: b["level"])
        assert all(w <= n for w, n in zip(wide["lower"], narrow["lower"], strict=True))


def test_the_series_endpoint_without_horizon_has_no_forecast(client: TestClient) -> None:
    data = client.get("/models/default/series").json()
    assert data["horizon"] == 0
    assert data["forecast"] == []
    assert data["bands"] == []


def test_plot_svg_draws_the_requested_number_of_forecast_points(client: TestClient) -> None:
    response = client.get("/models/default/plot.svg", params={"horizon": 13, "history": 100})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    assert root.attrib["data-forecast-points"] == "13"
    assert root.attrib["data-series-points"] == "100"
    forecast = root.find(f".//{SVG}polyline[@data-role='forecast']")
    assert forecast is not None
    assert len(forecast.attrib["points"].split()) == 13
    assert root.find(f".//{SVG}polyline[@data-role='holdout-forecast']") is not None


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("horizon=5000", 422, "invalid_input"),  # over FORECAST_MAX_HORIZON (2000 in tests)
        ("horizon=-1", 422, "invalid_input"),
        ("horizon=abc", 422, "invalid_input"),
        ("width=10", 422, "invalid_input"),
        ("history=0", 422, "invalid_input"),
    ],
)
def test_plot_svg_refuses_bad_queries_with_a_json_error(
    client: TestClient, query: str, status: int, code: str
) -> None:
    response = client.get(f"/models/default/plot.svg?{query}")
    assert response.status_code == status
    assert response.json()["error"] == code


def test_unknown_models_are_404_on_both_chart_endpoints(client: TestClient) -> None:
    for path in ("/models/nope/plot.svg", "/models/nope/series"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "model_not_found"


def test_the_chart_endpoints_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    svg = paths["/models/{name}/plot.svg"]["get"]["responses"]
    assert "image/svg+xml" in svg["200"]["content"]
    assert {"401", "404", "422"} <= set(svg)
    events = paths["/jobs/{job_id}/events"]["get"]["responses"]
    assert "text/event-stream" in events["200"]["content"]
    assert "202" in paths["/train"]["post"]["responses"]
    assert "/" not in paths  # the page is not an API operation
