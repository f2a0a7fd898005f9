"""Fuzzing the front door: mutated scenario files and odd command-line values.

Whatever a user writes, the tool answers with exit 0 or with exit 2 and one message that
names the file and the key (or the option) at fault, never a traceback (issue 12). The
CLI runs in this process (`sim.cli.main`), so an exception that escapes it fails the test
with its traceback, and a run that is accepted is really simulated (briefly).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main

BASELINE = ROOT / "scenarios" / "darlington" / "baseline.toml"
with BASELINE.open("rb") as _fh:
    RAW: dict[str, Any] = tomllib.load(_fh)

#: A short real run: enough to go through set-up, the event loop and the report.
TINY = ("--years", "0.25", "--reps", "2", "--workers", "1", "--quiet")

# Each example writes files and may simulate briefly (about a second): a modest count
# keeps CI short (about a minute and a half for the three tests). The examples are the
# same on every run, so CI cannot fail by chance; `FUZZ_EXPLORE=1 pytest
# tests/test_fuzz.py` draws new ones (and FUZZ_EXAMPLES=N more of them) to hunt for bugs.
EXPLORE = bool(os.environ.get("FUZZ_EXPLORE"))
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    derandomize=not EXPLORE,
    database=None if not EXPLORE else settings.default.database,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _leaves(node: Any, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a value (and to every table, where a key may be added or removed)."""
    out: list[tuple[str | int, ...]] = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _leaves(v, (*at, i))
    return out


PATHS = _leaves(RAW)

odd_text = st.sampled_from(
    ["£850", "01/04/2023", "2023-04-01", "=1+1", "", "-1", "1e9", "nan", "yes", "x" * 300]
)
values = st.one_of(
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    odd_text,
    st.booleans(),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1)),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=6), st.integers(-5, 5), max_size=2),
)


def _mutate(raw: dict[str, Any], path: tuple[str | int, ...], how: str, value: Any) -> None:
    parent = raw
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last]["no_such_key"] = value
    else:
        parent[last] = value


def _call(*argv: str) -> tuple[int, str]:
    """Exit status of the CLI: argparse exits, our commands return."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, ""


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    how=st.sampled_from(["set", "set", "delete", "add"]),
    value=values,
)
def test_a_mutated_scenario_is_accepted_or_refused_by_name(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: tuple[str | int, ...],
    how: str,
    value: Any,
) -> None:
    raw = copy.deepcopy(RAW)
    _mutate(raw, path, how, value)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example: tmp_path is shared
    file = folder / "mutated.toml"
    file.write_text(tomli_w.dumps(raw), encoding="utf-8")
    capsys.readouterr()
    code, _ = _call("validate", str(file))
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert "mutated.toml" in err, err
        named = [str(p) for p in path if isinstance(p, str)] + ["no_such_key"]
        assert any(p in err for p in named) or re.search(r"\[[^\]]+\]", err), err
        return
    code, _ = _call("run", str(file), *TINY, "--out", str(folder / "out"))
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("error:"), err


OPTIONS = ("--years", "--reps", "--seed", "--workers", "--suppress-below", "--out", "--events")
option_values = st.one_of(
    st.text(max_size=10),
    st.integers(-(10**20), 10**20).map(str),
    st.floats().map(str),
    st.sampled_from(
        ["/proc/nope", "/dev/null/x", ".", "..", "", "/", "-1", "0", "1e309", "nan", "2023-04-01"]
    ),
)


@FUZZ
@given(option=st.sampled_from(OPTIONS), value=option_values)
def test_odd_option_values_are_refused_by_name_or_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
) -> None:
    # Paths are relative to a fresh folder, so a fuzzed name never lands in the project.
    cwd = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.chdir(cwd)
    if (
        option in ("--out", "--events")
        and value.startswith("/")
        and value
        not in (
            "/proc/nope",
            "/dev/null/x",
            "/",
        )
    ):
        value = value.lstrip("/")
    capsys.readouterr()
    code, _ = _call("run", str(BASELINE), *TINY, "--out", "o", f"{option}={value}")
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert option in err or err.startswith("error:"), err


@settings(FUZZ, max_examples=15)
@given(
    vary=st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                "entries.per_year=1:1e9:1",
                "entries.per_year=",
                "=1,2",
                "no.such.key=1,2",
                "entries.per_year=£5,6",
                "scenario.start_date=01/04/2023,2024-04-01",
                "entries.per_year=50:40:1",
                "entries.per_year=1:2:0",
            ]
        ),
    )
)
def test_odd_sweep_axes_are_refused_by_name_or_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], vary: str
) -> None:
    out = Path(tempfile.mkdtemp(dir=tmp_path)) / "sweep"
    capsys.readouterr()
    code, _ = _call("sweep", str(BASELINE), "--vary", vary, *TINY, "--out", str(out))
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
