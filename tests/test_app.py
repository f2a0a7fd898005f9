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
#: the recruitment lever in the first option's column
O1 = f"o1:{RECRUIT}"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ROOT), base_url="http://127.0.0.1") as c:
        yield c


def form_values(html: str) -> dict[str, str]:
    """The form's fields as the page renders them."""
    return dict(
        re.findall(
            r'<input type="(?:number|hidden|date|text)"[^>]*name="([^"]+)" value="([^"]*)"', html
        )
    )


def cell(html: str, name: str) -> str:
    """The table cell holding the form field `name` (its control and any message)."""
    m = re.search(
        rf'<td class="opt[^"]*"[^>]*>\s*<input[^>]*name="{re.escape(name)}".*?</td>', html, re.S
    )
    assert m is not None, name
    return m.group(0)


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
    # four option columns, each starting at the baseline's values
    for i in range(1, 5):
        assert values[f"o{i}:{RECRUIT}"] == "7.7"
        assert values[f"o{i}:entries.per_year"] == "93"
    assert values["o1:provision.in_house_foster.deregistration_per_year"] == "0.115"
    assert values["o1:provision.ifa.weekly_cost"] == "941"
    # prices by needs level, homes' beds and closing dates, homes to add, own costs
    assert values["o1:provision.external_home.weekly_cost.very_complex"] == "12450"
    assert values["o1:provision.external_block.homes[0].beds"] == "3"
    assert values["o1:provision.in_house_home.homes[0].closes"] == ""
    assert values["o1:new_homes.solo_home.count"] == "0"
    assert values["o1:new_homes.solo_home.opens"] == "2024-04-01"
    assert values["o1:option_costs.per_year"] == "0"
    # the source comment from the file's line, and where it is
    assert "mean of 7 (2022/23), 5 (2023/24), 11 (2024/25) new carers [DSA]" in r.text
    assert "baseline.toml:242" in r.text
    assert "7.7 households a year" in r.text
    assert "from 0 to 200" in r.text and "from £0 to £100,000,000" in r.text
    assert "£12,450 a week" in r.text and "very complex needs" in r.text


def test_a_bad_value_comes_back_beside_its_control(client: TestClient) -> None:
    page = client.get("/scenario", params={"path": BASELINE}).text
    data = {**form_values(page), O1: "-5", "years": "1", "runs": "4"}
    r = client.post("/run", data=data)
    assert r.status_code == 422
    # the message sits in the control's own cell, as `validate` words it
    here = cell(r.text, O1)
    assert 'value="-5"' in here and 'aria-invalid="true"' in here
    assert "must be a number greater than or equal to 0 (got -5)" in here
    assert r.text.count('role="alert"') == 1
    assert "1 mistake to put right: it is marked below" in r.text  # said at the top too
    # a date that is not one, in another option, beside its own control
    bad = {**data, O1: "10", "o2:provision.in_house_home.homes[0].closes": "31/03/2025"}
    r = client.post("/run", data=bad)
    assert r.status_code == 422
    assert "must be a date, e.g. 2025-03-31" in cell(
        r.text, "o2:provision.in_house_home.homes[0].closes"
    )
    assert r.text.count('role="alert"') == 1


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
    r = client.post("/run", data={"path": str(outside), O1: "10"})
    assert r.status_code == 400


def test_another_host_name_is_refused(client: TestClient) -> None:
    # a page elsewhere reaching the app through a name it controls (DNS rebinding)
    assert client.get("/", headers={"host": "evil.example:8050"}).status_code == 400
    r = client.post("/run", data={"path": BASELINE}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403


def test_a_small_comparison_runs_and_its_files_download(client: TestClient) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    page = client.get("/scenario", params={"path": BASELINE}).text
    data = {**form_values(page), O1: "10", "years": "1", "runs": "4"}
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
    option = client.get(f"{job}/file/option-1.toml").text
    base = (ROOT / BASELINE).read_text(encoding="utf-8").splitlines()
    new = option.splitlines()
    changed = [line for line in new if line not in base and not line.startswith("#")]
    assert len(changed) == 3, changed  # the lever, the option's name and description
    assert any(
        line.startswith("recruitment_per_year = 10") and "was 7.7" in line for line in changed
    )
    # only files from the fixed list, from the job's own folder
    assert client.get(f"{job}/file/option-2.toml").status_code == 404  # no second option
    for name in ("summary.md", "compare.json", "..%2Foption-1.toml", "%2e%2e", "charts"):
        assert client.get(f"{job}/file/{name}").status_code == 404
    assert client.get("/job/nope/file/options.xlsx").status_code == 404


def test_the_scenario_copies_read_back_as_the_options() -> None:
    """Each column is its own option; its file is the baseline's text with the levers
    it changes, homes it adds and its own costs, and reads back as that option."""
    from sim.app.options import make_options
    from sim.scenario.load import load, loads

    loaded = load(ROOT / BASELINE, root=ROOT)
    made = make_options(
        loaded,
        {
            O1: "10",
            "o1:entries.per_year": "80",
            "o2:new_homes.solo_home.count": "2",
            "o2:new_homes.solo_home.opens": "2024-10-01",
            "o2:option_costs.one_off": "250000",
            "o2:option_costs.per_year": "120000",
            "o2:option_costs.starts": "2024-04-01",
            "o3:option_costs.starts": "2024-04-01",  # a date without costs: no change
            "o3:provision.in_house_home.homes[0].closes": "2025-01-01",
            "o3:provision.external_block.homes[0].beds": "4",
            "o3:provision.external_home.weekly_cost.very_complex": "9000",
            "o4:name": "",
            "years": "1",
            "runs": "4",
        },
    )
    assert not made.errors, made.errors
    assert [o.number for o in made.options] == [1, 2, 3]  # the fourth changes nothing
    one, two, three = (loads(o.text) for o in made.options)
    assert one.provision["in_house_foster"].recruitment_per_year == 10
    assert one.entries.per_year == 80
    solo = two.provision["solo_home"].homes
    assert [(h.beds, h.opens.isoformat()) for h in solo] == [(1, "2024-10-01")] * 2
    (cost,) = two.option_costs
    assert (cost.one_off, cost.per_year) == (250_000, 120_000)
    assert cost.starts is not None and cost.starts.isoformat() == "2024-04-01"
    assert three.provision["in_house_home"].homes[0].closes.isoformat() == "2025-01-01"
    assert three.provision["external_block"].homes[0].beds == 4
    assert three.provision["external_home"].weekly_cost["very_complex"] == 9000
    assert three.provision["external_home"].weekly_cost["standard"] == 4534  # untouched
    # the baseline's own lines stay as they were where the option does not change them
    base = (ROOT / BASELINE).read_text(encoding="utf-8").splitlines()
    kept = [line for line in made.options[2].text.splitlines() if not line.startswith("#")]
    assert sum(line not in base for line in kept) <= 6  # 4 levers, name, description
    assert made.options[0].name.startswith("Children entering care a year: 80 (baseline 93)")
    assert made.options[0].name.endswith("and 1 more change")


def test_a_mistake_in_an_added_home_names_its_control() -> None:
    from sim.app.options import make_options
    from sim.scenario.load import load

    loaded = load(ROOT / BASELINE, root=ROOT)
    made = make_options(
        loaded,
        {"o2:new_homes.solo_home.count": "1", "o2:new_homes.solo_home.beds": "25"},
    )
    assert set(made.errors) == {"o2:new_homes.solo_home.beds"}, made.errors
    assert "from 1 to 20" in made.errors["o2:new_homes.solo_home.beds"]
    assert not made.options
    made = make_options(
        loaded, {"o3:new_homes.solo_home.count": "2", "o3:new_homes.solo_home.opens": ""}
    )
    assert made.errors == {"o3:new_homes.solo_home.opens": "give the date the new homes open"}
    made = make_options(loaded, {"o1:new_homes.solo_home.count": "1.5"})
    assert "o1:new_homes.solo_home.count" in made.errors


def test_serving_other_computers_needs_the_token() -> None:
    """With a token, any host name reaches the app, but only with the token: once in the
    address (it becomes a cookie and leaves the address), then in the cookie."""
    from sim.app.server import TOKEN_COOKIE

    app = create_app(ROOT, token="s3cret-token")
    with TestClient(app, base_url="http://analyst-laptop:8050") as c:
        for bad in ("", "?token=wrong", "?token=%C3%A9"):
            r = c.get(f"/{bad}")
            assert r.status_code == 401 and "access token" in r.text, bad
        assert c.get("/scenario", params={"path": BASELINE}).status_code == 401
        r = c.get("/?token=s3cret-token", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        assert c.cookies.get(TOKEN_COOKIE) == "s3cret-token"
        assert "Darlington baseline" in c.get("/").text
        # the cookie does not let a page elsewhere post to the app
        r = c.post("/run", data={"path": BASELINE}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403


def test_serve_on_another_host_prints_a_token_and_needs_it(tmp_path: Path) -> None:
    """The real command on a non-loopback --host (127.0.0.2 stands for the network
    address: this computer, but not one of the names served without a token)."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.2", 0))
        except OSError:
            pytest.skip("127.0.0.2 cannot be bound here")
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    cmd = [sys.executable, "-m", "sim.cli", "serve", "--host", "127.0.0.2", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--folder", str(ROOT)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.2:\d+/)\?token=([\w-]{20,})", line)
        assert m, line
        url, token = m.groups()
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=1)
                pytest.fail("the app answered without its token")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer")
        # a browser keeps the cookie the token address sets, and is let in
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(f"{url}?token={token}", timeout=5) as r:
            assert r.status == 200 and r.url == url  # the token has left the address
            assert b"Darlington baseline" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_progress_counts_runs_and_cancel_stops_them(client: TestClient) -> None:
    """The status says how many runs are done of how many; cancel stops the runs (the
    job ends cancelled within a chunk of replications, long before the comparison would
    have finished) and nothing of it can be downloaded."""
    page = client.get("/scenario", params={"path": BASELINE}).text
    data = {**form_values(page), O1: "10", "years": "10", "runs": "1000"}
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


def test_the_first_page_lists_a_region_s_councils_but_not_the_region() -> None:
    from sim.app.server import find_baselines

    listed = {b.path: b for b in find_baselines(ROOT)}
    assert "scenarios/north-east/durham/baseline.toml" in listed
    assert "scenarios/north-east/middlesbrough/baseline.toml" in listed
    assert not any(p.endswith("region.toml") for p in listed)
    assert not any(b.error for b in listed.values())


def test_a_lever_with_dated_changes_says_so_and_holds_for_the_whole_run() -> None:
    """foster-plus-10 raises recruitment to 13 from April 2024 ([[changes]]); the lever
    says so beside it, and a value given in an option replaces those dates (it used to be
    undone by them a year in, silently). Its source is the baseline's line, not a line
    number of the option's own, shorter file."""
    from sim.app.levers import levers
    from sim.app.options import make_options
    from sim.scenario.load import load, loads

    loaded = load(ROOT / "scenarios/darlington/foster-plus-10.toml", root=ROOT)
    (lever,) = [x for x in levers(loaded) if x.key == RECRUIT]
    assert lever.dated == ("13 from 2024-04-01",)
    assert lever.where == "baseline.toml:242"
    made = make_options(loaded, {O1: "20"})
    assert not made.errors, made.errors
    option = loads(made.options[0].text)
    assert option.provision["in_house_foster"].recruitment_per_year == 20
    assert not [c for c in option.changes if c.key == RECRUIT]


def test_dates_before_the_start_and_a_provision_s_mistakes_name_their_control() -> None:
    from sim.app.options import make_options
    from sim.scenario.load import load

    loaded = load(ROOT / BASELINE, root=ROOT)
    closes = "o1:provision.in_house_home.homes[0].closes"
    made = make_options(
        loaded,
        {
            closes: "2022-01-01",
            "o2:new_homes.solo_home.count": "1",
            "o2:new_homes.solo_home.opens": "2023-04-01",
            "o3:option_costs.one_off": "1000",
            "o3:option_costs.starts": "2020-01-01",
        },
    )
    assert set(made.errors) == {
        closes,
        "o2:new_homes.solo_home.opens",
        "o3:option_costs.starts",
    }, made.errors
    assert all("after the scenario starts (2023-04-01)" in m for m in made.errors.values())
    # all three of the council's homes closed in the first month: too few places for the
    # nine children there at the start, said beside a closing date, not the option's name
    data = {f"o1:provision.in_house_home.homes[{k}].closes": "2023-05-01" for k in range(4)}
    made = make_options(loaded, data)
    (field,) = made.errors
    assert field.startswith("o1:provision.in_house_home.homes["), made.errors
