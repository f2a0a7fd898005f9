"""Every notebook runs top to bottom with small settings, so the examples never rot.

Each notebook is executed in a fresh Jupyter kernel from the `notebooks/` folder (as a
user opening it would), with its "parameters" cell followed by small values: few runs,
one year, one process, and an output folder in pytest's tmp directory, never in the
repository. The checks read what the notebook printed and wrote, not just that it ran.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
REPS, YEARS = 4, 1
CELL_TIMEOUT = 300  # seconds per cell; the slowest cell takes a few seconds with these settings
OPTIONS = ("foster-plus-10", "solo-homes", "edge-of-care")


def _parameters_cell(nb: Any) -> Any:
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


@pytest.fixture(autouse=True)
def this_python_kernel(tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any) -> None:
    """Run the notebooks on the Python running the tests, whatever kernels are installed.

    A "python3" kernel of another Python (in the user's Jupyter folder, say) would test
    the notebooks against some other installation; JUPYTER_PATH is searched first.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (tests)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(root))


def _execute(name: str, out: Path) -> Any:
    """Run notebook `name` with small settings and its outputs going to `out`."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    params = _parameters_cell(nb)
    for setting in ("REPS", "YEARS", "OUT"):
        assert re.search(rf"^{setting} = ", params.source, re.M), f"{name}: no {setting} setting"
    params.source += (
        f"\n\n# set by tests/test_notebooks.py\nREPS = {REPS}\nYEARS = {YEARS}\nWORKERS = 1\n"
        f"OUT = {str(out)!r}\n"
    )
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, errors
    return nb


def _text(nb: Any) -> str:
    """Everything the notebook printed or displayed as text, in order."""
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                parts.append(o.text)
            elif o.output_type in ("execute_result", "display_data"):
                parts.append(o.get("data", {}).get("text/plain", ""))
                parts.append(o.get("data", {}).get("text/html", ""))
                parts.append(o.get("data", {}).get("text/markdown", ""))
    return "\n".join(parts)


def _images(nb: Any) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type in ("execute_result", "display_data")
    )


def test_notebooks_are_stored_without_outputs() -> None:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names[:3] == [
        "01-quick-start.ipynb",
        "02-compare-options.ipynb",
        "03-build-your-own-scenario.ipynb",
    ]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs"
                private = re.search(r"(?<!\w)_[A-Za-z]\w*", cell.source)
                assert not private, f"{name}: uses the private name {private.group(0)!r}"
                # only the public API: `from sim import ...`, never a module below it
                inner = re.search(r"^\s*(?:from|import)\s+sim\.[\w.]+.*$", cell.source, re.M)
                assert not inner, f"{name}: imports below `sim`: {inner.group(0).strip()!r}"


def test_quick_start(tmp_path: Path) -> None:
    nb = _execute("01-quick-start.ipynb", tmp_path)
    text = _text(nb)
    assert f"{REPS} runs of 12 months" in text
    for headline in (
        "Children in care, March 2024",
        "Not suitably placed",
        "Total cost over 1 year",
    ):
        assert headline in text
    # The year table: one row, with a median and a range in pounds.
    assert re.search(r"March 2024.*£[\d.]+m \(£[\d.]+m to £[\d.]+m\)", text, re.S)
    folder = tmp_path / "quick-start"
    assert (folder / "summary.md").read_text(encoding="utf-8").startswith("#")
    assert (folder / "run.json").is_file() and (folder / "scenario.toml").is_file()
    assert len(list(folder.glob("chart_*.png"))) >= 4
    assert _images(nb) >= 2  # the fan chart and the report's cost chart


def test_compare_options(tmp_path: Path) -> None:
    nb = _execute("02-compare-options.ipynb", tmp_path)
    text = _text(nb)
    sentences = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    names = [s.name for s in map(_load, OPTIONS)]
    for name in names:
        assert any(name in s for s in sentences), f"no sentence names {name!r}: {sentences}"
    workbooks = list((tmp_path / "options").rglob("*.xlsx"))
    reports = list((tmp_path / "options").rglob("*.html"))
    assert len(workbooks) == 1 and len(reports) == 1
    openpyxl = pytest.importorskip("openpyxl")
    summary = openpyxl.load_workbook(workbooks[0], read_only=True).worksheets[0]
    cells = " ".join(str(v) for row in summary.iter_rows(values_only=True) for v in row if v)
    html = reports[0].read_text(encoding="utf-8")
    for name in names:
        assert name in cells and name in html
    assert _images(nb) >= 1


def test_build_your_own_scenario(tmp_path: Path) -> None:
    nb = _execute("03-build-your-own-scenario.ipynb", tmp_path)
    text = _text(nb)
    option_file = tmp_path / "my-option.toml"
    assert option_file.read_text(encoding="utf-8").startswith("extends = ")
    assert "In-house home: Children's home D, 3 beds, opens 2023-10-01" in text
    # The typo is caught with the file, the key and the right spelling named.
    typo = re.search(r"^.*my-option-with-a-typo\.toml:\d+: .*$", text, re.M)
    assert typo, text
    assert "recruitment_per_yr" in typo.group(0) and "recruitment_per_year" in typo.group(0)
    sentences = [
        line for line in text.splitlines() if line.startswith("Option 'My option: a fourth")
    ]
    assert len(sentences) == 1, text
    # The option's own costs are read and counted: the key table shows them over the run.
    costs = re.search(r"^\| The option's own costs \| £0 \| \+£([\d.]+)k ", text, re.M)
    assert costs and float(costs.group(1)) >= 750, text  # the £750k one-off at least
    assert _images(nb) >= 1


def _load(stem: str):
    from sim import load

    return load(NOTEBOOKS.parent / "scenarios" / "darlington" / f"{stem}.toml")
