"""The web app, as a commissioner uses it: from opening the page to a comparison's results.

Starts `sufficiency serve` on a free port (the installed build: run it from outside the
repository to time the compiled one), drives the system Chromium through Playwright, and
times, on the Darlington baseline:

- opening the app and the baseline's levers page;
- filling two options (foster carers recruited a year 7.7 -> 10; two solo homes opening a
  year in) and pressing Compare;
- the comparison itself, the baseline and both options over `--years` years and `--runs`
  runs each, until its sentences and charts are on the page.

and a last line for scripts:

    app: page to results <seconds> s (<runs> runs x <years> y, 2 options)

Usage: python bench/app.py [--runs 200] [--years 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECRUIT = "provision.in_house_foster.recruitment_per_year"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    """`sufficiency serve` on `port`, reading the repository's scenarios; waits until it
    answers."""
    exe = shutil.which("sufficiency")
    cmd = [exe] if exe else [sys.executable, "-m", "sim.cli"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", str(port), "--folder", str(ROOT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer within a minute")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--years", type=int, default=5)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH")
    from playwright.sync_api import sync_playwright

    import sim

    print(f"sufficiency {sim.__version__} ({'compiled' if sim.COMPILED else 'pure Python'})")
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    port = free_port()
    proc = start_server(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("link", name="Darlington baseline").click()
            page.wait_for_selector("form#levers")
            t_levers = time.perf_counter()
            page.locator(f'input[name="o1:{RECRUIT}"]').fill("10")
            page.locator('input[name="o1:name"]').fill("Recruit 10 foster carers a year")
            page.locator("#s-new_homes > summary").click()
            page.locator('input[name="o2:new_homes.solo_home.count"]').fill("2")
            page.locator('input[name="o2:name"]').fill("Two solo homes")
            page.locator('input[name="years"]').fill(str(args.years))
            page.locator('input[name="runs"]').fill(str(args.runs))
            page.locator("#run").click()
            page.wait_for_url("**/job/*")
            t_started = time.perf_counter()
            page.locator("p.sentence").first.wait_for(timeout=3_600_000)
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            t_done = time.perf_counter()
            sentences = page.locator("p.sentence").all_inner_texts()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"open the app and the baseline's levers: {t_levers - t0:.1f} s")
    print(f"fill two options and press Compare:     {t_started - t_levers:.1f} s (scripted)")
    print(f"the comparison, to sentences and charts: {t_done - t_started:.1f} s")
    for s in sentences:
        print(f"  {s}")
    print(
        f"app: page to results {t_done - t0:.1f} s ({args.runs} runs x {args.years} y, 2 options)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
