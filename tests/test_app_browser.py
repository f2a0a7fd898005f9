"""The web app in a real browser: headless Chromium driven by Playwright, against the
real server started as `sufficiency serve`, as a commissioner would use it.

Needs the system Chromium on PATH (skipped with the reason otherwise). With
SUFFICIENCY_SCREENSHOTS=1 it saves screenshots of the main screens to docs/app/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web app's extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "docs" / "app" if os.environ.get("SUFFICIENCY_SCREENSHOTS") == "1" else None
RECRUIT = "o1:provision.in_house_foster.recruitment_per_year"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH for Playwright")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`sufficiency serve` on a free port, reading the repository's scenarios."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "serve", "--port", str(port), "--folder", str(ROOT)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):  # the app imports pandas and matplotlib: a few seconds
            if proc.poll() is not None:
                pytest.fail(f"the server stopped: {proc.stdout.read() if proc.stdout else ''}")
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer within 40 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def shot(page: object, name: str) -> None:
    """Save a screenshot of the page when asked to (SUFFICIENCY_SCREENSHOTS=1)."""
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name), full_page=True)  # type: ignore[attr-defined]


def test_a_commissioner_compares_an_option_in_the_browser(server: str, tmp_path: Path) -> None:
    import openpyxl

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page.goto(server)
            shot(page, "1-scenarios.png")
            page.get_by_role("link", name="Darlington baseline").click()
            page.wait_for_selector("form#levers")
            recruit = page.locator(f'input[name="{RECRUIT}"]')
            assert recruit.input_value() == "7.7"
            shot(page, "2-levers.png")

            # a bad value: the message appears beside the control, as validate words it
            recruit.fill("-5")
            page.locator('input[name="years"]').fill("1")
            page.locator('input[name="runs"]').fill("4")
            page.locator("#run").click()
            here = page.locator(f'td:has(> input[name="{RECRUIT}"])')
            here.locator(".error").wait_for()
            assert "must be a number greater than or equal to 0 (got -5)" in here.inner_text()
            assert page.locator(".error").count() == 1
            shot(page, "3-mistake.png")

            # option 1: recruitment from 7.7 to 10 a year; option 2, in a closed section
            # of the form: two solo homes; a small comparison of both with the baseline
            page.locator(f'input[name="{RECRUIT}"]').fill("10")
            solo = page.locator('input[name="o2:new_homes.solo_home.count"]')
            assert not solo.is_visible()
            page.locator("#s-new_homes > summary").click()
            solo.fill("2")
            page.locator('input[name="o2:name"]').fill("Two solo homes")
            page.locator("#run").click()
            page.wait_for_url("**/job/*")
            # the page polls the job and shows the results when it is done
            page.locator("p.sentence").first.wait_for(timeout=300_000)
            sentence = page.locator("p.sentence").first.inner_text()
            assert "Foster carers recruited a year" in sentence
            assert "Option 'Two solo homes'" in page.locator("p.sentence").nth(1).inner_text()
            assert page.locator("#dl-toml-2").count() == 1
            chart = page.locator("img.chart").first
            chart.wait_for()
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            assert chart.evaluate("i => i.naturalWidth") > 100
            shot(page, "4-results.png")

            with page.expect_download() as info:
                page.locator("#dl-xlsx").click()
            saved = tmp_path / "options.xlsx"
            info.value.save_as(saved)
            assert info.value.suggested_filename == "options.xlsx"
            assert openpyxl.load_workbook(saved).sheetnames

            # a refresh shows the same finished run
            page.reload()
            assert page.locator("p.sentence").first.inner_text() == sentence
        finally:
            browser.close()
