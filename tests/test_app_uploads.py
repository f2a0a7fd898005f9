"""The web app's other starting points (sim/app/uploads.py, and the modules it joins:
multipart, folders, export, calibrations): a scenario file of the user's own, saved into
the chosen folder's uploads/ and opened at its levers, and an SSDA903 export (a zip, or its
CSV files) calibrated in the background into calibrated/. Limits hold while the body is
read, unsafe zips are refused before a byte is unpacked, the 903 files live only in a
private folder inside the chosen folder and are gone afterwards, and nothing is written
anywhere else."""

from __future__ import annotations

import html
import io
import os
import re
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web app's extra is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

from fastapi.testclient import TestClient

from sim.app import calibrations, export, uploads
from sim.app.server import create_app
from sim.scenario.load import load

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "darlington" / "baseline.toml"
REGION = ROOT / "scenarios" / "north-east" / "region.toml"
DATA = ROOT / "calibration" / "synthetic-903"
#: A Header file's first child: it must never come back in a page.
CHILD = "46835397"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The chosen folder, alone in tmp_path (so anything written beside it shows)."""
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    return chosen


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_app(folder), base_url="http://127.0.0.1") as c:
        yield c


def files_under(path: Path) -> set[str]:
    """Every file and folder under `path`, relative."""
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


def private_folders(folder: Path) -> list[Path]:
    return list(folder.glob(calibrations.PRIVATE + "*"))


def error_beside(page: str, control: str) -> str:
    """The message shown beside a form control (its e-CONTROL element), or ""."""
    m = re.search(rf'id="e-{control}" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(m.group(1)) if m else ""


def upload(client: TestClient, name: str, content: bytes, **headers: str):
    return client.post(
        "/upload/scenario",
        files={"scenario": (name, content, "application/toml")},
        headers=headers,
        follow_redirects=False,
    )


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def export_zip() -> bytes:
    """The synthetic 903 set as a council might zip it: in a folder, with its README."""
    return zipped({f"export/{p.name}": p.read_bytes() for p in sorted(DATA.iterdir())})


def calibrate(
    client: TestClient, files: list[tuple[str, bytes]], at: str = "2021-03-31", **data: str
):
    parts = [("files", (name, content, "application/octet-stream")) for name, content in files]
    return client.post("/calibrate", files=parts, data={"at": at, **data}, follow_redirects=False)


def finished(client: TestClient, location: str) -> dict[str, object]:
    """The calibration's status once it has ended (a few seconds for the synthetic set)."""
    status: dict[str, object] = {}
    for _ in range(400):
        status = client.get(f"{location}/status").json()
        if status["state"] != "running":
            break
        time.sleep(0.25)
    return status


# =========================================================================== a scenario file


def test_a_scenario_upload_redirects_to_its_levers(client: TestClient, folder: Path) -> None:
    text = BASELINE.read_bytes()
    # as a browser posts it: Origin names the app's own address
    r = upload(client, "My baseline (v2).toml", text, origin="http://127.0.0.1")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/scenario?path=uploads/My_baseline__v2_.toml"
    saved = folder / "uploads" / "My_baseline__v2_.toml"
    assert saved.read_bytes() == text
    levers = client.get(r.headers["location"])
    assert levers.status_code == 200
    assert "Darlington baseline" in levers.text
    assert 'id="levers"' in levers.text  # the levers' form, for the saved file
    assert 'name="path" value="uploads/My_baseline__v2_.toml"' in levers.text
    # the first page lists it among the user's own scenarios
    index = client.get("/").text
    assert 'href="/scenario?path=uploads/My_baseline__v2_.toml"' in index
    assert files_under(folder) == {"uploads", "uploads/My_baseline__v2_.toml"}


def test_the_same_name_twice_gives_two_files(client: TestClient, folder: Path) -> None:
    first = BASELINE.read_bytes()
    second = first.replace(b'name = "Darlington baseline"', b'name = "Darlington again"', 1)
    assert second != first
    assert upload(client, "la.toml", first).headers["location"].endswith("uploads/la.toml")
    r = upload(client, "la.toml", second)
    assert r.headers["location"] == "/scenario?path=uploads/la-2.toml"
    assert (folder / "uploads" / "la.toml").read_bytes() == first  # untouched
    assert (folder / "uploads" / "la-2.toml").read_bytes() == second
    assert "Darlington again" in client.get(r.headers["location"]).text
    # no temporary file is left beside them
    assert sorted(os.listdir(folder / "uploads")) == ["la-2.toml", "la.toml"]


def test_an_invalid_scenario_shows_the_validate_message_and_leaves_no_file(
    client: TestClient, folder: Path
) -> None:
    text = BASELINE.read_text(encoding="utf-8")
    bad = text.replace("per_year = 93", "per_year = -5", 1)
    assert bad != text
    bad = "# a note only the file holds: PRIVATE-NOTE-7731\n" + bad
    r = upload(client, "bad.toml", bad.encode())
    assert r.status_code == 422
    message = error_beside(r.text, "scenario")
    assert "bad.toml" in message and "[entries.per_year]" in message
    assert "must be a number greater than or equal to 0 (got -5)" in message
    assert str(folder) not in message  # named as the user knows it, not where it was put
    assert "PRIVATE-NOTE-7731" not in r.text  # the file's contents are not echoed
    assert 'aria-invalid="true" aria-describedby="e-scenario"' in r.text
    assert list((folder / "uploads").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("baseline.csv", b"a,b\n1,2\n", "is not a scenario file"),
        ("region.toml", REGION.read_bytes(), "runs one council's scenario"),
        ("broken.toml", b"[scenario\nname = 1\n", "broken.toml"),
    ],
    ids=["not-toml", "region-file", "not-toml-syntax"],
)
def test_other_files_are_refused_with_a_message(
    client: TestClient, folder: Path, name: str, content: bytes, says: str
) -> None:
    r = upload(client, name, content)
    assert r.status_code == 422
    assert says in error_beside(r.text, "scenario")
    assert not any(p.is_file() for p in folder.rglob("*"))


def test_a_scenario_that_extends_a_file_outside_the_folder_is_refused(
    client: TestClient, folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_bytes(BASELINE.read_bytes())
    option = b'extends = "../../outside.toml"\n\n[entries]\nper_year = 80\n'
    r = upload(client, "option.toml", option)
    assert r.status_code == 422
    message = error_beside(r.text, "scenario")
    assert "outside the folder scenarios are read from" in message
    assert "[extends]" in message and "uploads/" in message  # the hint
    assert "Darlington baseline" not in r.text  # nothing of the outside file was read into the page
    assert list((folder / "uploads").iterdir()) == []


def test_an_uploads_folder_that_links_elsewhere_is_not_written_through(
    client: TestClient, folder: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "uploads").symlink_to(elsewhere, target_is_directory=True)
    r = upload(client, "la.toml", BASELINE.read_bytes())
    assert r.status_code == 422
    assert "is a link or a file, not a folder" in error_beside(r.text, "scenario")
    assert list(elsewhere.iterdir()) == []


def test_a_scenario_over_the_limit_is_refused_with_413(client: TestClient, folder: Path) -> None:
    big = b"# padding\n" * (uploads.SCENARIO_LIMIT // 10 + 1)
    r = upload(client, "big.toml", big)
    assert r.status_code == 413
    assert "larger than 1 MB" in error_beside(r.text, "scenario")
    assert not any(p.is_file() for p in folder.rglob("*"))


def test_the_limit_holds_without_a_content_length(client: TestClient, folder: Path) -> None:
    """A body sent in chunks (no Content-Length to trust or distrust) is counted as read."""
    boundary = "sufficiencytest"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="scenario"; '
        f'filename="big.toml"\r\nContent-Type: application/toml\r\n\r\n'
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(uploads.SCENARIO_LIMIT // 65536 + 8):
            yield b"#" * 65535 + b"\n"
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/upload/scenario",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert not any(p.is_file() for p in folder.rglob("*"))


def test_a_cross_site_upload_is_refused_before_anything_is_written(
    client: TestClient, folder: Path
) -> None:
    r = upload(client, "la.toml", BASELINE.read_bytes(), origin="http://evil.example")
    assert r.status_code == 403
    r = client.post(
        "/calibrate",
        files=[("files", ("export.zip", export_zip(), "application/zip"))],
        data={"at": "2021-03-31"},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403
    assert files_under(folder) == set()


# =========================================================================== an SSDA903 export


def test_a_zipped_export_calibrates_into_calibrated(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the system's temporary folder, watched: the 903 files must not be spooled there
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    beside = set(os.listdir(tmp_path.parent))
    with TestClient(create_app(folder), base_url="http://127.0.0.1") as client:
        r = calibrate(client, [("export.zip", export_zip())], name="Synthetic LA")
        assert r.status_code == 303, r.text
        location = r.headers["location"]
        assert re.fullmatch(r"/calibrate/[\w-]+", location)
        status = finished(client, location)
        assert status["state"] == "done", status
        page = client.get(location).text
        link = re.search(r'href="(/scenario\?path=calibrated/[^"]+)"[^>]*>Open its levers', page)
        assert link is not None, page
        assert link.group(1) == "/scenario?path=calibrated/Synthetic_LA.toml"
        assert "The uploaded files have been deleted" in page
        assert "What the data checks found" in page  # calibrate's summary, by file and row
        assert CHILD not in page
        levers = client.get(link.group(1))
        assert levers.status_code == 200 and "Synthetic LA" in levers.text
        assert not private_folders(folder)
        # only the comparisons' empty folder is there: no upload was spooled to it
        assert [p.name[:16] for p in system_temp.iterdir()] == ["sufficiency-app-"]
        assert not any(p.is_file() for p in system_temp.rglob("*"))

        # the same name again, as the folder's files (the README passed over): a second
        # scenario, the first untouched
        first = (folder / "calibrated" / "Synthetic_LA.toml").read_bytes()
        chosen = [(p.name, p.read_bytes()) for p in sorted(DATA.iterdir())]
        r = calibrate(client, chosen, name="Synthetic LA")
        assert r.status_code == 303, r.text
        assert finished(client, r.headers["location"])["state"] == "done"
        page = client.get(r.headers["location"]).text
        assert "calibrated/Synthetic_LA-2.toml" in page
        assert f"from {len(chosen) - 1} uploaded files" in page
        assert (folder / "calibrated" / "Synthetic_LA.toml").read_bytes() == first

    scenario = load(folder / "calibrated" / "Synthetic_LA.toml", root=folder)
    assert scenario.name == "Synthetic LA"
    assert str(scenario.model.scenario.start_date) == "2021-04-01"
    assert (folder / "calibrated" / "Synthetic_LA_calibration" / "calibration.md").is_file()
    assert (folder / "calibrated" / "Synthetic_LA-2_calibration" / "calibration.md").is_file()
    assert not private_folders(folder)
    assert {p.name for p in tmp_path.iterdir()} == {"chosen", "system-temp"}
    assert set(os.listdir(tmp_path.parent)) == beside
    # no CSV of the export was kept anywhere in the folder
    assert not list(folder.rglob("*.csv"))


def symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("header_2021.csv", (DATA / "header_2021.csv").read_bytes())
        link = zipfile.ZipInfo("episodes_2021.csv")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    return buf.getvalue()


def lying_zip() -> bytes:
    """A zip whose headers say its member is 10 bytes; it unpacks to 50,000."""
    data = bytearray(zipped({"episodes_2021.csv": b"CHILD,DECOM\n" + b"1,2\n" * 12_497}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        data[at : at + 4] = struct.pack("<I", 10)
    return bytes(data)


@pytest.mark.parametrize(
    ("archive", "says", "status"),
    [
        (lambda: zipped({"../evil.csv": b"a,b\n"}), "points outside the zip's own folders", 422),
        (lambda: zipped({"/tmp/evil.csv": b"a,b\n"}), "points outside the zip's own folders", 422),
        (symlink_zip, "a link to another file", 422),
        (lying_zip, "its sizes do not match what it holds", 422),
        (lambda: zipped({"episodes.csv": b"x" * 5000}), "more than", 413),
        (lambda: zipped({f"f{i}.csv": b"a\n" for i in range(7)}), "the zip holds 7 files", 422),
        (lambda: zipped({"a/h.csv": b"a\n", "b/h.csv": b"a\n"}), "two files named 'h.csv'", 422),
        (lambda: zipped({"h.csv": b"a\n", "notes.docx": b"x"}), "which is not a .csv file", 422),
        (lambda: b"PK\x03\x04 not really a zip", "the zip cannot be read", 422),
    ],
    ids=[
        "dot-dot",
        "absolute",
        "symlink",
        "lying-sizes",
        "too-large-unzipped",
        "too-many",
        "same-name",
        "not-csv",
        "not-a-zip",
    ],
)
def test_unsafe_zips_are_refused_and_nothing_is_written(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive, says: str, status: int
) -> None:
    monkeypatch.setattr(export, "UNZIPPED_LIMIT", 1000)
    monkeypatch.setattr(export, "MEMBER_LIMIT", 6)
    beside = set(os.listdir(tmp_path.parent))
    with TestClient(create_app(folder), base_url="http://127.0.0.1") as client:
        r = calibrate(client, [("export.zip", archive())], name="evil")
    assert r.status_code == status, r.text
    assert says in error_beside(r.text, "files"), error_beside(r.text, "files")
    assert 'value="2021-03-31"' in r.text and 'value="evil"' in r.text  # the form comes back
    assert files_under(folder) == set()  # no private folder left, nothing unpacked
    assert {p.name for p in tmp_path.iterdir()} == {"chosen"}
    assert set(os.listdir(tmp_path.parent)) == beside


def test_an_upload_over_the_limit_is_refused_with_413(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "EXPORT_LIMIT", 100_000)
    with TestClient(create_app(folder), base_url="http://127.0.0.1") as client:
        r = calibrate(client, [("export.zip", export_zip())])
    assert r.status_code == 413
    assert "larger than" in error_beside(r.text, "files")
    assert files_under(folder) == set()


def test_the_date_and_the_files_are_checked_before_calibrating(
    client: TestClient, folder: Path
) -> None:
    header = [("header_2021.csv", (DATA / "header_2021.csv").read_bytes())]
    r = calibrate(client, header, at="2021-03-30", name="Mine")
    assert r.status_code == 422
    assert "must be the last day of a month (e.g. 2021-03-31)" in error_beside(r.text, "at")
    assert 'value="Mine"' in r.text
    r = client.post("/calibrate", data={"at": ""}, files=[("files", ("", b"", "text/csv"))])
    assert r.status_code == 422
    assert "choose the SSDA903 export" in error_beside(r.text, "files")
    assert "give the date the data run to" in error_beside(r.text, "at")
    r = calibrate(client, [("header.xlsx", b"PK")])
    assert "neither a .zip nor a .csv file" in error_beside(r.text, "files")
    assert files_under(folder) == set()


def test_a_failed_calibration_shows_calibrates_message_and_deletes_the_files(
    client: TestClient, folder: Path
) -> None:
    header = [("header_2021.csv", (DATA / "header_2021.csv").read_bytes())]
    r = calibrate(client, header, name="Only a header")
    assert r.status_code == 303, r.text
    status = finished(client, r.headers["location"])
    assert status["state"] == "failed"
    page = client.get(r.headers["location"]).text
    found = re.search(r'id="calibrate-error">(.*?)</p>', page, re.S)
    assert found is not None, page
    message = html.unescape(found.group(1))
    assert message.startswith("the uploaded files: no Episodes file"), message
    assert "header_2021.csv" in message
    assert calibrations.PRIVATE not in page and CHILD not in page
    assert not private_folders(folder)
    assert not list(folder.rglob("*.toml")) and not list(folder.rglob("*.csv"))


def test_private_folders_go_when_the_server_stops_and_after_a_crash(folder: Path) -> None:
    # one left by a server that was killed: its process is gone
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = folder / f"{calibrations.PRIVATE}{done.stdout.strip()}-{'0' * 16}"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "header_2021.csv").write_text("CHILD\n1\n")
    # another name of the same shape but not ours to judge (a live process) stays
    alive = folder / f"{calibrations.PRIVATE}{os.getpid()}-{'1' * 16}"
    alive.mkdir()
    with TestClient(create_app(folder), base_url="http://127.0.0.1") as client:
        assert not stale.exists()
        assert alive.exists()
        private = client.app.state.calibrations.private_folder()
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        (private / "data" / "episodes_2021.csv").write_text("CHILD\n1\n")
    assert not private.exists()  # the server stopped: the lifespan removed it
    alive.rmdir()


# =========================================================================== in a browser


def test_a_commissioner_calibrates_from_a_zip_in_the_browser(folder: Path, tmp_path: Path) -> None:
    """Chromium posts the form as a browser does (its Origin, its multipart body), the page's
    script polls the calibration by the address the page names, and the server's own
    shutdown leaves no private folder."""
    import shutil
    import socket
    import urllib.request

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH for Playwright")
    (tmp_path / "export.zip").write_bytes(export_zip())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    command = [
        sys.executable,
        "-m",
        "sim.cli",
        "serve",
        "--port",
        str(port),
        "--folder",
        str(folder),
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "the server stopped"
                time.sleep(0.2)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium, headless=True, args=["--no-sandbox"]
            )
            try:
                page = browser.new_page()
                page.goto(url)
                page.locator("#f-files").set_input_files(str(tmp_path / "export.zip"))
                page.locator("#f-at").fill("2021-03-31")
                page.locator("#f-name").fill("Browser LA")
                page.get_by_role("button", name="Calibrate").click()
                page.wait_for_url("**/calibrate/*")
                # the script polls and reloads: the link appears without a click
                page.locator("#open-levers").wait_for(timeout=120_000)
                page.locator("#open-levers").click()
                page.wait_for_selector("form#levers")
                assert "Browser LA" in page.locator("h1").inner_text()
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (folder / "calibrated" / "Browser_LA.toml").is_file()
    assert not private_folders(folder)
    assert {p.name for p in tmp_path.iterdir()} == {"chosen", "export.zip"}


def test_an_option_that_extends_a_baseline_uploads_after_it(client: TestClient) -> None:
    """An option file (`extends = "baseline.toml"`) alone is refused with what to do;
    uploaded after its baseline, it finds it in uploads/ and opens."""
    option = (BASELINE.parent / "foster-plus-10.toml").read_bytes()
    r = upload(client, "foster-plus-10.toml", option)
    assert r.status_code == 422
    assert "upload that file first (e.g. baseline.toml), then this one" in error_beside(
        r.text, "scenario"
    )
    assert upload(client, "baseline.toml", BASELINE.read_bytes()).status_code == 303
    r = upload(client, "foster-plus-10.toml", option)
    assert r.status_code == 303, r.text
    assert "+10 in-house foster places" in client.get(r.headers["location"]).text
