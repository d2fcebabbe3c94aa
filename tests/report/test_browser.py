"""The report in real headless Chromium: no console errors, every figure rendered, all sections.

Runs by default; skipped only when Debian's chromium / chromium-driver are absent. The
screenshot is kept as a test artifact in tests/artifacts/report.png (git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian packages chromium and chromium-driver",
    ),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1366,900",
    ):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_report_renders_in_chromium(browser, tiny_run):
    from selenium.webdriver.common.by import By

    report = tiny_run.report
    assert report is not None and report.is_file()
    browser.get(report.resolve().as_uri())
    browser.execute_script("return document.fonts ? document.fonts.ready : true")

    # No console errors (failed loads, broken data URIs, script errors).
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == [], errors

    # Every section is there and has content.
    for anchor in ("glance", "restrictions", "dataset", "level1", "level2", "discovery", "run"):
        section = browser.find_element(By.ID, anchor)
        assert section.size["height"] > 40, anchor
    assert "synthetic sample" in browser.find_element(By.TAG_NAME, "h1").text.lower()

    # Every figure decoded and laid out with a non-zero size.
    images = browser.find_elements(By.TAG_NAME, "img")
    ran = {s.name for s in tiny_run.steps if s.status == "ok"}
    # Trait distributions (data); heatmaps (independence); curves + latent graph (crl).
    assert len(images) >= ("data" in ran) + 2 * ("crl" in ran) + ("independence" in ran)
    for img in images:
        natural = browser.execute_script(
            "return arguments[0].complete ? arguments[0].naturalWidth : 0;", img
        )
        box = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", img
        )
        assert natural > 0, img.get_attribute("alt")
        assert box[0] > 0 and box[1] > 0, img.get_attribute("alt")
    for svg in browser.find_elements(By.TAG_NAME, "svg"):
        box = browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", svg
        )
        assert box[0] > 0 and box[1] > 0

    # The page fits a laptop screen: no horizontal scrolling of the page itself.
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 1

    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1366, min(int(height) + 100, 16000))
    shot = ARTIFACTS / "report.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(report, ARTIFACTS / "report.html")
    print(f"screenshot: {shot}")


def test_report_prints(browser, tiny_run):
    """Print CSS: the page renders to PDF through Chromium's print pipeline."""
    browser.get(tiny_run.report.resolve().as_uri())
    pdf = browser.print_page()
    import base64

    data = base64.b64decode(pdf)
    assert data.startswith(b"%PDF") and len(data) > 20_000
    # Print CSS: no navigation bar, white page background.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    nav = browser.execute_script(
        "return getComputedStyle(document.querySelector('nav.toc')).display;"
    )
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor;")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert nav == "none"
    assert background in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
