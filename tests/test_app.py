"""The web app (`sufficiency serve`) through FastAPI's test client: the form shows the
levers with their sources, mistakes come back beside their control, a small comparison
runs in the background and its files download, and no path leaves the folder."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web app's extra is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient

from sim.app.server import create_app

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "scenarios/darlington/baseline.toml"
RECRUIT = "provision.in_house_foster.recruitment_per_year"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ROOT), base_url="http://127.0.0.1") as c:
        yield c


def form_values(html: str) -> dict[str, str]:
    """The form's fields as the page renders them."""
    return dict(
        re.findall(r'<input type="(?:number|hidden)"[^>]*name="([^"]+)" value="([^"]*)"', html)
    )


def test_the_index_lists_the_baselines(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "Darlington baseline" in r.text
    assert f"/scenario?path={BASELINE}" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_the_form_shows_levers_with_values_units_ranges_and_sources(client: TestClient) -> None:
    r = client.get("/scenario", params={"path": BASELINE})
    assert r.status_code == 200
    values = form_values(r.text)
    assert values[RECRUIT] == "7.7"
    assert values["entries.per_year"] == "93"
    assert values["provision.in_house_foster.deregistration_per_year"] == "0.115"
    assert values["provision.ifa.weekly_cost"] == "941"
    assert "provision.external_home.weekly_cost" not in values  # by need: not a lever yet
    # the source comment from the file's line, and where it is
    assert "mean of 7 (2022/23), 5 (2023/24), 11 (2024/25) new carers [DSA]" in r.text
    assert "baseline.toml:242" in r.text
    assert "households a year" in r.text and "from 0 to 200" in r.text


def test_a_bad_value_comes_back_beside_its_control(client: TestClient) -> None:
    page = client.get("/scenario", params={"path": BASELINE}).text
    data = {**form_values(page), RECRUIT: "-5", "years": "1", "runs": "4"}
    r = client.post("/run", data=data)
    assert r.status_code == 422
    # the message sits in the same table row as the control, as `validate` words it
    row = re.search(
        rf'<tr class="lever wrong" data-key="{re.escape(RECRUIT)}">(.*?)</tr>', r.text, re.S
    )
    assert row is not None, r.text
    assert 'value="-5"' in row.group(1)
    assert "must be a number greater than or equal to 0 (got -5)" in row.group(1)
    assert r.text.count('class="lever wrong"') == 1


def test_bad_years_and_an_unchanged_form_are_refused(client: TestClient) -> None:
    page = client.get("/scenario", params={"path": BASELINE}).text
    r = client.post("/run", data={**form_values(page), "years": "11", "runs": "4"})
    assert r.status_code == 422
    assert 'id="e-years"' in r.text and "from 1 to 10 (got 11)" in r.text
    assert "Change at least one lever" in r.text


def test_a_path_outside_the_folder_is_refused(client: TestClient, tmp_path: Path) -> None:
    outside = tmp_path / "x.toml"
    outside.write_text((ROOT / BASELINE).read_text(encoding="utf-8"), encoding="utf-8")
    for path in (str(outside), "../" * 8 + str(outside).lstrip("/"), "pyproject.toml"):
        r = client.get("/scenario", params={"path": path})
        assert r.status_code == 400, path
        assert "Darlington baseline" not in r.text
    r = client.post("/run", data={"path": str(outside), RECRUIT: "10"})
    assert r.status_code == 400


def test_another_host_name_is_refused(client: TestClient) -> None:
    # a page elsewhere reaching the app through a name it controls (DNS rebinding)
    assert client.get("/", headers={"host": "evil.example:8050"}).status_code == 400
    r = client.post("/run", data={"path": BASELINE}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403


def test_a_small_comparison_runs_and_its_files_download(client: TestClient) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    page = client.get("/scenario", params={"path": BASELINE}).text
    data = {**form_values(page), RECRUIT: "10", "years": "1", "runs": "4"}
    r = client.post("/run", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    job = r.headers["location"]
    assert re.fullmatch(r"/job/[\w-]+", job)
    state = "running"
    for _ in range(600):  # a 1-year, 4-run comparison takes seconds; allow a slow machine
        state = client.get(f"{job}/status").json()["state"]
        if state != "running":
            break
        time.sleep(0.5)
    assert state == "done", client.get(f"{job}/status").json()
    done = client.get(job).text  # a refresh shows the same job
    assert 'class="sentence"' in done and "Foster carers recruited a year" in done
    charts = re.findall(rf'src="({re.escape(job)}/file/compare_[a-z_]+\.png)"', done)
    assert charts
    png = client.get(charts[0])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    xlsx = client.get(f"{job}/file/options.xlsx")
    assert xlsx.status_code == 200
    assert "attachment" in xlsx.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames
    assert client.get(f"{job}/file/report.html").status_code == 200
    # the option as a scenario file: the baseline's text, only the changed lines differ
    option = client.get(f"{job}/file/option.toml").text
    base = (ROOT / BASELINE).read_text(encoding="utf-8").splitlines()
    new = option.splitlines()
    changed = [line for line in new if line not in base and not line.startswith("#")]
    assert len(changed) == 2, changed  # the lever and the option's name
    assert any(
        line.startswith("recruitment_per_year = 10") and "was 7.7" in line for line in changed
    )
    # only files from the fixed list, from the job's own folder
    for name in ("summary.md", "compare.json", "..%2Foption.toml", "%2e%2e", "charts"):
        assert client.get(f"{job}/file/{name}").status_code == 404
    assert client.get("/job/nope/file/options.xlsx").status_code == 404


def test_the_scenario_copy_reads_back_as_the_option() -> None:
    from sim.app.server import make_option
    from sim.scenario.load import load, loads

    loaded = load(ROOT / BASELINE, root=ROOT)
    option = make_option(
        loaded, {RECRUIT: "10", "entries.per_year": "80", "years": "1", "runs": "4"}
    )
    assert not option.errors
    model = loads(option.text)
    assert model.provision["in_house_foster"].recruitment_per_year == 10
    assert model.entries.per_year == 80


def test_serve_refuses_another_host_for_now(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "8051"]) == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0" in err and "this computer only" in err


def test_progress_counts_runs_and_cancel_stops_them(client: TestClient) -> None:
    """The status says how many runs are done of how many; cancel stops the runs (the
    job ends cancelled within a chunk of replications, long before the comparison would
    have finished) and nothing of it can be downloaded."""
    page = client.get("/scenario", params={"path": BASELINE}).text
    data = {**form_values(page), RECRUIT: "10", "years": "10", "runs": "1000"}
    job = client.post("/run", data=data, follow_redirects=False).headers["location"]
    status = client.get(f"{job}/status").json()
    assert status["total"] == 2000 and status["done"] <= 2000
    assert client.post(f"{job}/cancel", follow_redirects=False).status_code in (200, 303)
    import threading

    name = f"job-{job.rsplit('/', 1)[-1]}"
    # 2,000 ten-year runs take minutes; stopped, the job's thread ends within a chunk
    for _ in range(240):
        if not any(t.name == name for t in threading.enumerate()):
            break
        time.sleep(0.25)
    assert not any(t.name == name for t in threading.enumerate()), "the runs did not stop"
    status = client.get(f"{job}/status").json()
    assert status["state"] == "cancelled"
    assert status["done"] < 2000
    assert client.get(f"{job}/file/options.xlsx").status_code == 404
