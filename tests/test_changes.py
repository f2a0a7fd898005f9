"""Dated `[[changes]]`: validated change by change, and in force on their date, not before.

Runs compare a scenario with one dated change against the same scenario without it, with
the same seeds. Before the change nothing differs, so the monthly figures must be
identical (common random numbers: the change draws nothing itself); after it, the level
must match the new value.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from sim.engine.metrics import Layout
from sim.engine.model import simulate
from sim.runs.montecarlo import run
from sim.runs.parameters import drawn
from sim.scenario.changes import in_force
from sim.scenario.load import load
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "data" / "minimal.toml"
#: the minimal scenario starts on 2024-04-01: a change on 2025-04-01 starts month 13
CHANGE = dt.date(2025, 4, 1)
MONTH = 12  # index of the first month the change is in force for all of
YEARS = 3
SEEDS = (1, 2, 3, 4)


def scenario(tmp_path: Path, changes: str, name: str = "changed.toml") -> Path:
    """The minimal scenario with `changes` (TOML text) added."""
    path = tmp_path / name
    path.write_text(f'extends = "{MINIMAL}"\n\n{changes}')
    return path


def runs(model: Scenario) -> list[np.ndarray]:
    """Monthly figures of one replication per seed."""
    return [simulate(model, YEARS, seed).monthly for seed in SEEDS]


def series(model: Scenario, monthly: np.ndarray, metric: str, group: str) -> np.ndarray:
    return monthly[:, Layout.for_scenario(model).i(metric, group)]


def change(key: str, how: str, date: dt.date = CHANGE) -> str:
    return f'[[changes]]\ndate = {date}\nkey = "{key}"\n{how}\nsource = "test"\n'


def paired(tmp_path: Path, changes: str) -> tuple[Scenario, list[np.ndarray], list[np.ndarray]]:
    base = load(MINIMAL).model
    model = load(scenario(tmp_path, changes)).model
    before, after = runs(base), runs(model)
    for a, b in zip(before, after, strict=True):
        # identical in every series until the month the change starts
        assert np.array_equal(a[:MONTH], b[:MONTH])
        assert not np.array_equal(a[MONTH:], b[MONTH:])
    return model, before, after


# --------------------------------------------------------------------------- in force


def test_entry_rate_changes_on_its_date(tmp_path: Path) -> None:
    model, base, changed = paired(tmp_path, change("entries.per_year", "multiply = 2"))
    a = sum(series(model, m, "entries", "all")[MONTH:].sum() for m in base)
    b = sum(series(model, m, "entries", "all")[MONTH:].sum() for m in changed)
    # 60 a year doubled, over 2 years and 4 replications: about 480 entries against 960.
    # Entries come in sibling groups (mean size about 1.3 in the minimal scenario), so the
    # relative standard deviation of each total is about sqrt(1.3 / 480) = 5% and 3.7%,
    # and of their ratio about 6%; 20% is over 3 standard deviations.
    assert b / a == pytest.approx(2.0, rel=0.2)


def test_exit_rate_changes_on_its_date(tmp_path: Path) -> None:
    key = "exits.return_home.rate_per_year"
    model, base, changed = paired(tmp_path, change(key, "multiply = 3"))

    def rate(months: list[np.ndarray]) -> float:
        exits = sum(series(model, m, "exits", "return_home")[MONTH:].sum() for m in months)
        days = sum(
            sum(series(model, m, "child_days", p)[MONTH:].sum() for p in model.provision)
            for m in months
        )
        return float(exits / days)

    # return home at 0.15-0.25 a year over about 200 children, 2 years, 4 replications:
    # about 300 exits against 900. The rate per child-day is the hazard averaged over the
    # ages and times in care of the children in care, which the faster exits shift a
    # little (younger children, with higher rates, leave sooner); the Poisson noise of
    # the ratio is about 7%. 25% covers both.
    assert rate(changed) / rate(base) == pytest.approx(3.0, rel=0.25)


def test_price_changes_on_its_date_and_costs_the_month_in_two_parts(tmp_path: Path) -> None:
    when = dt.date(2025, 4, 16)  # mid-month: the days before are at the old price
    model = load(scenario(tmp_path, change("provision.ifa.weekly_cost", "multiply = 1.5", when)))
    base = load(MINIMAL).model
    for seed in SEEDS[:2]:
        a = simulate(base, YEARS, seed).monthly
        b = simulate(model.model, YEARS, seed).monthly
        # a price moves no child: every figure but the cost is the same throughout
        cost = [Layout.for_scenario(base).i("cost", g) for g in ("ifa", "total")]
        others = [i for i in range(a.shape[1]) if i not in cost]
        assert np.array_equal(a[:, others], b[:, others])
        i = cost[0]
        assert np.array_equal(a[:MONTH, i], b[:MONTH, i])
        # the month of the change: half-way, between the old and the new price
        assert a[MONTH, i] < b[MONTH, i] < 1.5 * a[MONTH, i]
        # after it: exactly 1.5 times (the same child-days), inflation as before
        np.testing.assert_allclose(b[MONTH + 1 :, i], 1.5 * a[MONTH + 1 :, i], rtol=1e-12)


def test_recruitment_changes_on_its_date(tmp_path: Path) -> None:
    key = "provision.in_house_foster.recruitment_per_year"
    model, _, changed = paired(tmp_path, change(key, "set = 40"))
    recruited = sum(series(model, m, "recruited", "in_house_foster")[MONTH:].sum() for m in changed)
    # 40 a year for 2 years in 4 replications: 320 households expected (the minimal
    # scenario approves at once), Poisson standard deviation 18 (5.6%): 20% is over 3.
    assert recruited == pytest.approx(320, rel=0.2)


def test_deregistration_and_offers_follow_the_change(tmp_path: Path) -> None:
    # carers leave only by deregistration here (not with a child leaving on an SGO)
    text = MINIMAL.read_text().replace("carer_leaves_probability = 0.5", "")
    assert text != MINIMAL.read_text()
    (tmp_path / "base.toml").write_text(text)
    base = load(tmp_path / "base.toml").model
    changes = change("provision.in_house_foster.deregistration_per_year", "set = 0") + change(
        "provision.ifa.offer_probability", "set = 0"
    )
    (tmp_path / "changed.toml").write_text(text + "\n" + changes)
    model = load(tmp_path / "changed.toml").model
    left = 0.0
    for seed in SEEDS:
        a, b = simulate(base, YEARS, seed).monthly, simulate(model, YEARS, seed).monthly
        assert np.array_equal(a[:MONTH], b[:MONTH])
        # no household leaves after the date (their times to leave drawn again at rate 0)
        assert series(model, b, "deregistered", "in_house_foster")[MONTH:].sum() == 0
        left += series(model, a, "deregistered", "in_house_foster")[MONTH:].sum()
        # no child is placed with an IFA after it: its children only leave
        ifa = series(model, b, "in_care", "ifa")[MONTH - 1 :]
        assert np.all(np.diff(ifa) <= 0)
        assert np.any(np.diff(series(model, a, "in_care", "ifa")[MONTH - 1 :]) > 0)
    assert left > 0  # without the change, households did leave


def test_changes_apply_in_date_order_on_top_of_each_other() -> None:
    text = (
        MINIMAL.read_text()
        + "\n"
        + (
            change("entries.per_year", "multiply = 0.5", dt.date(2025, 4, 1))
            + change("entries.per_year", "multiply = 3", dt.date(2024, 10, 1))
            + change("entries.per_year", "set = 10", dt.date(2024, 10, 1))
        )
    )
    from sim.scenario.load import loads

    versions = in_force(loads(text))
    # on 2024-10-01: x3 (180) then set 10, in file order; on 2025-04-01: half of 10
    assert [(d, v.entries.per_year) for d, v in versions] == [
        (dt.date(2024, 10, 1), 10.0),
        (dt.date(2025, 4, 1), 5.0),
    ]


def test_a_change_applies_to_the_replications_drawn_value(tmp_path: Path) -> None:
    text = MINIMAL.read_text().replace(
        "recruitment_per_year = 4", "recruitment_per_year = { median = 4, interval90 = [2, 8] }"
    )
    path = tmp_path / "uncertain.toml"
    path.write_text(
        text
        + "\n"
        + change("provision.in_house_foster.recruitment_per_year", "multiply = 2")
        + change("provision.in_house_foster.recruitment_per_year", "set = 12", dt.date(2026, 1, 1))
    )
    model = load(path).model
    for seed in np.random.SeedSequence(5).spawn(3):
        rep = drawn(model, seed)
        value = rep.provision["in_house_foster"].recruitment_per_year  # type: ignore[union-attr]
        assert value != 4  # drawn
        (_, doubled), (_, moved) = in_force(rep)
        assert doubled.provision["in_house_foster"].recruitment_per_year == pytest.approx(2 * value)
        # set: the replication's value moves as the median does (8 -> 12), on the log scale
        assert moved.provision["in_house_foster"].recruitment_per_year == pytest.approx(
            12 * value / 4
        )


def test_results_are_the_same_whatever_the_number_of_workers(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        change("entries.per_year", "multiply = 1.5")
        + change("exits.sgo.rate_per_year", "multiply = 2")
        + change("provision.ifa.weekly_cost", "multiply = 1.1"),
    )
    one = run(load(path), years=2, reps=4, seed=7, workers=1, progress=False)
    two = run(load(path), years=2, reps=4, seed=7, workers=2, progress=False)
    assert np.array_equal(one.monthly, two.monthly)


def test_foster_plus_10_recruits_from_the_enhanced_offer() -> None:
    model = load(ROOT / "scenarios" / "darlington" / "foster-plus-10.toml").model
    assert [c.key for c in model.changes] == ["provision.in_house_foster.recruitment_per_year"]
    assert not model.provision["in_house_foster"].recruitment_changes  # type: ignore[union-attr]


# --------------------------------------------------------------------------- validation


def line_of(path: Path, text: str, nth: int = 0) -> int:
    lines = [i for i, t in enumerate(path.read_text().splitlines(), start=1) if t.startswith(text)]
    return lines[nth]


GOOD = change("entries.per_year", "multiply = 0.9")


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        (
            change("provision.in_house_foster.recruitment_per_yaer", "set = 1"),
            "key",
            r"no key 'recruitment_per_yaer'.*recruitment_per_year",
        ),
        (
            change("provision.nope.weekly_cost", "set = 1"),
            "key",
            r"no provision\.nope \(provision has: kinship, in_house_foster",
        ),
        (
            change("exits.sgo.rate_per_year.16-17", "multiply = 2"),
            "key",
            "multiply needs a value in force",
        ),
        (change("entries.per_year", 'set = "lots"'), "set", r"\[entries\.per_year\] must be"),
        (
            change("provision.kinship.offer_probability", "set = 1.5"),
            "set",
            r"\[provision\.kinship\.offer_probability\] must be a number from 0 to 1",
        ),
        (
            change("entries.per_year", "multiply = 0.5", dt.date(2024, 4, 1)),
            "date",
            r"not after the scenario starts \(2024-04-01\)",
        ),
        (
            change("matching.retry_days", "set = 3"),
            "key",
            r"cannot change during a run yet.*expected one of entries\.per_year",
        ),
        (
            change("provision.in_house_home.homes[0].beds", "set = 3"),
            "key",
            "opens, closes and resize dates",
        ),
    ],
)
def test_validate_names_file_line_key_and_what_is_expected(
    tmp_path: Path, bad: str, field: str, words: str
) -> None:
    path = scenario(tmp_path, GOOD + "\n" + bad)
    proc = cli("validate", str(path))
    assert proc.returncode == 2, proc.stdout
    err = proc.stderr
    line = line_of(path, f"{field} =", 1) if field != "set" else line_of(path, "set =")
    assert f"{path}:{line}:" in err
    assert f"[changes[1].{field}]" in err
    assert "change of" in err
    assert re.search(words, err), err


def test_validate_refuses_both_set_and_multiply(tmp_path: Path) -> None:
    path = scenario(tmp_path, change("entries.per_year", "set = 1\nmultiply = 2"))
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    assert f"{path}:3:" in proc.stderr  # the [[changes]] table
    assert "both of 'set' and 'multiply'" in proc.stderr


def test_validate_lists_the_changes(tmp_path: Path) -> None:
    proc = cli("validate", str(scenario(tmp_path, GOOD)))
    assert proc.returncode == 0, proc.stderr
    assert "change: 2025-04-01 entries.per_year x 0.9 (test)" in proc.stdout
