"""The dashboard end to end in a real browser: Debian's chromium driven by Playwright.

CI installs chromium with apt (never a downloaded browser); the test skips only where
/usr/bin/chromium is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, running_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install -y chromium)",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[str]:
    import shutil

    store = tmp_path_factory.mktemp("browser") / "store"
    shutil.copytree(trained_store, store)
    with running_server(store, FORECAST_LOG_LEVEL="warning") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def sine_text(n: int) -> str:
    return ", ".join(f"{math.sin(i * 2 * math.pi / 12) + 0.01 * i:.5f}" for i in range(n))


def test_train_through_the_form_watch_progress_and_see_the_forecast(
    server: str, browser: object
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server + "/")

    expect(page.locator("#models-table tbody tr[data-model='default']")).to_be_visible()
    expect(page.locator("#chart svg polyline[data-role='forecast']")).to_have_attribute(
        "data-points", "40"
    )

    # Train from a pasted list, as a background job.
    page.get_by_label("Model name", exact=True).fill("browser-sine")
    page.get_by_label("Values", exact=True).fill(sine_text(150))
    page.get_by_label("Window size", exact=True).fill("12")
    page.get_by_label("Test size (held out)", exact=True).fill("12")
    page.get_by_label("Hidden size", exact=True).fill("8")
    page.get_by_label("Epochs (empty: planned)", exact=True).fill("4")
    page.get_by_label("Serve it even if it does not beat the baselines", exact=True).check()
    page.get_by_role("button", name="Train", exact=True).click()

    status = page.locator("#train-status")
    expect(status).to_contain_text("Done:", timeout=120_000)
    expect(status).to_contain_text("browser-sine v1 succeeded")
    assert page.locator("#train-progress").evaluate("p => p.value") == 1
    # The live loss curve got one point per epoch: 4 fit epochs, then 2 refit epochs.
    loss = page.locator("#loss-chart polyline[data-role='train_loss']")
    assert len(loss.get_attribute("points").split()) == 6
    validation = page.locator("#loss-chart polyline[data-role='validation_loss']")
    assert len(validation.get_attribute("points").split()) == 4

    # The new model is listed and drawn; ask for 25 steps with the keyboard.
    expect(page.locator("#models-table tbody tr[data-model='browser-sine']")).to_be_visible()
    expect(page.locator("#model-select")).to_have_value("browser-sine")
    horizon = page.get_by_label("Horizon (steps ahead)", exact=True)
    horizon.fill("25")
    horizon.press("Enter")
    expect(page.locator("#chart-status")).to_contain_text("25 steps forecast")
    chart = page.locator("#chart svg")
    expect(chart.locator("title")).to_have_text("browser-sine v1")
    forecast = chart.locator("polyline[data-role='forecast']")
    expect(forecast).to_have_attribute("data-points", "25")
    assert len(forecast.get_attribute("points").split()) == 25
    assert chart.locator("polyline[data-role='holdout-forecast']").count() == 1
    page.locator("#forecast-details summary").click()
    assert page.locator("#forecast-table tbody tr").count() == 25
    page.screenshot(path=str(ARTIFACTS / "dashboard-1280.png"), full_page=True)
    assert errors == []
    page.close()


def test_the_page_fits_a_phone_and_reads_a_csv(server: str, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(server + "/")
    expect(page.locator("#chart svg polyline[data-role='forecast']")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    csv = "timestamp,value\n" + "\n".join(f"2024-01-{d:02d},{d * 1.5}" for d in range(1, 29))
    page.get_by_label("CSV file", exact=True).set_input_files(
        {"name": "sales.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    column = page.get_by_label("CSV column", exact=True)
    expect(column).to_be_enabled()
    expect(column).to_have_value("1")
    assert column.locator("option").all_inner_texts() == ["value"]
    expect(page.locator("#train-status")).to_contain_text("sales.csv: 28 rows")
    page.screenshot(path=str(ARTIFACTS / "dashboard-390.png"), full_page=True)

    # Keyboard only: the skip link comes first and every control can be reached with Tab.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id"))
    assert {"model-select", "horizon", "train-name", "train-values", "train-submit"} <= reached
    page.close()


@pytest.fixture(autouse=True, scope="module")
def _no_proxy() -> Iterator[None]:
    """Loopback traffic must not go through a proxy set in the environment."""
    saved = {key: os.environ.pop(key) for key in ("HTTP_PROXY", "http_proxy") if key in os.environ}
    yield
    os.environ.update(saved)
