"""Comparing options with a baseline: pairing, option costs, break-even, the command.

Runs are small (1-2 years, a handful of replications): the properties tested hold
replication by replication, not only on average.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MINIMAL, minimal_raw, scenario_from

from sim.common.errors import ScenarioError, UserError
from sim.reports.comparison import summary_markdown, unmet_table
from sim.reports.comparison_words import sentence, sentences
from sim.reports.presentation import level_text, money
from sim.runs.commissioners import COMMISSIONER_MEASURES, UNMET_SETTING
from sim.runs.compare import (
    METRICS,
    Comparison,
    break_even_table,
    break_even_years,
    compare,
    metrics_in,
    option_cost_by_year,
    period_labels,
)
from sim.scenario.schema import OptionCost

ROOT = Path(__file__).resolve().parent.parent
DARLINGTON = ROOT / "scenarios" / "darlington"


def _costs(*items: dict) -> list[OptionCost]:
    return [OptionCost.model_validate({"item": f"item {i}", **c}) for i, c in enumerate(items)]


# =========================================================================== pairing


@pytest.fixture(scope="module")
def self_comparison() -> Comparison:
    """The minimal scenario against itself, and against itself plus some option costs."""
    base = scenario_from(minimal_raw())
    raw = minimal_raw()
    raw["option_costs"] = [
        {"item": "Campaign", "one_off": 10_000, "starts": dt.date(2024, 10, 1)},
        {"item": "Staff", "per_year": 36_500, "starts": dt.date(2024, 10, 1)},
    ]
    return compare([base, base, scenario_from(raw)], years=2, reps=6, seed=11, workers=1)


def test_scenario_against_itself_differs_by_exactly_nothing(self_comparison: Comparison) -> None:
    cmp = self_comparison
    assert cmp.names[1] == f"{cmp.names[0]} (2)"  # names stay unique in every table
    for metric in METRICS:
        d = cmp.diff(metric)
        assert d.shape == (3, 6, 3)
        assert np.all(d[0] == 0) and np.all(d[1] == 0), metric
    same = cmp.summary[cmp.summary["option"] == cmp.names[1]]
    assert len(same) == len(METRICS) * 3
    assert (same[["diff_median", "diff_p5", "diff_p95", "prob_better"]] == 0).all().all()
    assert "costs the same as the baseline" in sentences(cmp)[0]
    # the baseline really has something to compare: money was spent, children were placed
    assert np.all(cmp.values["placement_cost"][0, :, -1] > 0)


def test_option_costs_add_exactly_their_pounds(self_comparison: Comparison) -> None:
    """Same placements (same seed), so net cost differs by the option's costs alone."""
    cmp = self_comparison
    # year 1 (Apr 2024-Mar 2025): the one-off, and 182 of 365 days of £36,500 a year
    expected = np.array([10_000 + 18_200, 36_500, 10_000 + 18_200 + 36_500])
    assert np.allclose(cmp.diff("net_cost")[2], expected, rtol=0, atol=1e-6)
    assert np.allclose(cmp.values["option_cost"][2], expected, rtol=0, atol=1e-6)
    assert np.all(cmp.diff("placement_cost")[2] == 0)
    row = cmp.summary.query("option == @cmp.names[2] and metric == 'net_cost'")
    assert row["prob_better"].tolist() == [0.0, 0.0, 0.0]  # strictly dearer in every run
    assert "costs £65k more" in sentences(cmp)[1]
    assert "after its own costs of £65k" in sentences(cmp)[1]


def test_free_capacity_never_raises_the_paired_median_unmet_demand() -> None:
    base_raw = minimal_raw()
    more = minimal_raw()
    more["provision"]["in_house_foster"]["households"].append({"count": 15, "places": 2})
    cmp = compare(
        [scenario_from(base_raw), scenario_from(more)], years=2, reps=20, seed=3, workers=2
    )
    baseline_days = cmp.values["unmet_child_days"][0, :, -1]
    assert np.median(baseline_days) > 0, "the test needs a baseline with unmet demand"
    for metric in ("unmet_children", "unmet_child_days"):
        assert np.all(np.median(cmp.diff(metric)[1], axis=0) <= 0), metric
    # and the extra places were used: fewer child-days unmet in most runs
    assert np.mean(cmp.diff("unmet_child_days")[1, :, -1] < 0) > 0.5


# =========================================================================== option costs


def test_running_costs_pro_rata_by_days_one_offs_in_their_year() -> None:
    start = dt.date(2027, 4, 1)  # 2027/28 holds 29 February 2028: a 366-day year
    costs = _costs(
        {"per_year": 73_200},  # the whole run
        {"one_off": 5_000, "starts": dt.date(2028, 4, 1)},
        {"per_year": 36_500, "starts": dt.date(2028, 4, 1), "ends": dt.date(2028, 5, 1)},
        {"per_year": 1_000, "inflation_per_year": 0.1},
        {"one_off": 999, "starts": dt.date(2031, 1, 1)},  # after the run: not counted
    )
    got = option_cost_by_year(costs, start, months=30)
    # year 3 is a part year of 6 months: 183 days of a 365-day year (Apr 2029 to Mar 2030)
    year3 = 73_200 * 183 / 365 + 1_000 * 1.1**2 * 183 / 365
    expected = [73_200 + 1_000, 73_200 + 5_000 + 36_500 * 30 / 365 + 1_100, year3]
    assert got[:-1] == pytest.approx(expected, rel=1e-12)
    assert got[-1] == pytest.approx(sum(expected), rel=1e-12)


def test_no_costs_cost_nothing() -> None:
    assert option_cost_by_year([], dt.date(2024, 4, 1), 24).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"item": "Campaign"}, "has no amount"),
        ({"item": "Campaign", "one_off": 1, "cost": 5}, "unknown key 'cost'"),
        ({"one_off": 1}, "this required key is missing"),
        ({"item": "Campaign", "per_year": -10}, "greater than or equal to 0"),
        (
            {"item": "Home", "per_year": 1, "starts": "2025-04-01", "ends": "2025-01-01"},
            "ends (2025-01-01) on or before it starts",
        ),
        ({"item": "Home", "one_off": 1, "starts": "2020-04-01"}, "before the scenario starts"),
    ],
)
def test_a_bad_option_cost_is_a_clear_error(tmp_path: Path, entry: dict, words: str) -> None:
    from sim.scenario.load import load

    lines = [f'extends = "{MINIMAL.as_posix()}"', "", "[[option_costs]]"]
    for key, value in entry.items():
        text = f'"{value}"' if key == "item" else str(value)
        lines.append(f"{key} = {text}")
    option = tmp_path / "option.toml"
    option.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError) as err:
        load(option)
    message = str(err.value)
    assert message.startswith(str(option)), message
    assert "option_costs[0]" in message and words in message, message


def test_options_must_start_with_the_baseline(tmp_path: Path) -> None:
    option = tmp_path / "later.toml"
    option.write_text(f'extends = "{MINIMAL.as_posix()}"\n\n[scenario]\nstart_date = 2025-04-01\n')
    with pytest.raises(ScenarioError, match=r"later\.toml.*starts on 2025-04-01.*2024-04-01"):
        compare([MINIMAL, option], years=1, reps=2, workers=1)
    with pytest.raises(UserError, match="unknown measure 'cost'"):
        compare([MINIMAL, MINIMAL], years=1, reps=2, rank_by=("cost",))


# =========================================================================== break-even


def _hand_made(net_cost: np.ndarray, option_cost: float) -> Comparison:
    """A comparison built from numbers, no simulation: 3 scenario years from April 2024."""
    n, reps, _ = net_cost.shape
    full = np.concatenate([net_cost, net_cost.sum(axis=2, keepdims=True)], axis=2)
    own = np.zeros_like(full)
    own[1:] = option_cost
    cmp = Comparison(
        names=["Baseline", "Option"][:n],
        results=[],
        periods=period_labels(dt.date(2024, 4, 1), 36),
        reps=reps,
        values={"net_cost": full, "option_cost": own, "unmet_child_days": np.zeros_like(full)},
        option_costs=[[], []],
        summary=pd.DataFrame(),
        break_even=pd.DataFrame(),
        ranking=pd.DataFrame(),
        months=36,
    )
    cmp.break_even = break_even_table(cmp)
    return cmp


def test_break_even_is_the_year_the_cumulative_saving_stays_above_zero() -> None:
    base = [100, 100, 100]
    options = [
        [150, 80, 60],  # savings -50, +20, +40: cumulative -50, -30, +10 -> year 3
        [90, 120, 90],  # +10, -20, +10: cumulative +10, -10, 0 -> year 3, not year 1
        [200, 100, 100],  # never
        [80, 100, 100],  # year 1
    ]
    net = np.array([[base] * 4, options], dtype=float)
    cmp = _hand_made(net, 1.0)
    assert break_even_years(cmp.values["net_cost"], 1).tolist() == [2, 2, 3, 0]
    row = cmp.break_even.iloc[0]
    assert cmp.periods == ["2024/25", "2025/26", "2026/27", "All 3 years"]
    assert row["median_year"] == "2026/27"
    assert (row["p5_year"], row["p95_year"]) == ("2024/25", "not within 3 years")
    assert row["prob_within_horizon"] == 0.75


def test_sentence_says_saving_interval_and_break_even() -> None:
    # ten runs: the option saves £0.8m to £2.0m over three years, after £0.3m of its own
    savings = np.linspace(0.8e6, 2.0e6, 10)
    base = np.full((10, 3), 5e6)
    option = base - savings[:, None] / 3
    option[:, 0] += 0.9e6  # a dear first year: break-even later
    option[:, 1:] -= 0.45e6
    cmp = _hand_made(np.stack([base, option]), 0.3e6)
    cmp.values["unmet_child_days"][1, :7, -1] = -5.0  # less unmet demand in 7 runs of 10
    text = sentence(cmp, 1)
    p5, p95 = (money(v) for v in np.percentile(savings, [5, 95]))
    assert text.startswith(f"Option 'Option' saves £1.4m (90% interval {p5} to {p95}) over three")
    assert "after its own costs of £300k" in text
    assert "than the baseline in 7 runs out of 10" in text
    assert "It pays for itself by 2025/26" in text and "in every run" in text


def test_financial_years_only_from_april() -> None:
    assert period_labels(dt.date(2024, 4, 1), 18) == [
        "2024/25",
        "2025/26 (6 months)",
        "All 18 months",
    ]
    assert period_labels(dt.date(2024, 1, 1), 12) == ["Jan 2024 to Dec 2024", "All 1 year"]


# =========================================================================== command line


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_compare_command_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "options"
    files = [DARLINGTON / f"{n}.toml" for n in ("baseline", "foster-plus-10", "solo-homes")]
    args = ["compare", *map(str, files), "--years", "1", "--reps", "4", "--workers", "2"]
    # ranked on an unmet-demand measure as commissioners mean it, named on the command line
    args += ["--rank-by", "net_cost,unregistered_under_16"]
    done = _cli(*args, "--out", str(out))
    assert done.returncode == 0, done.stderr
    for name in (
        "comparison.csv",
        "ranking.csv",
        "break_even.csv",
        "replications_diff.csv.gz",
        "summary.md",
        "options.xlsx",
        "report.html",
    ):
        assert (out / name).is_file(), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    # one sentence per option on stdout, and the wall time on stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Option 'Darlington: +10 in-house foster")
    assert "Done in" in done.stderr
    summary = pd.read_csv(out / "comparison.csv", encoding="utf-8-sig", dtype=str)
    assert len(summary) == 2 * len(METRICS) * 2  # options x measures x (2023/24, All 1 year)
    assert set(summary["period"]) == {"2023/24", "All 1 year"}
    _assert_suppressed(summary)
    with gzip.open(out / "replications_diff.csv.gz", "rt") as fh:
        tidy = pd.read_csv(fh)
    assert len(tidy) == 3 * 4 * len(METRICS) * 2
    solo = tidy.query("option == 'Darlington: two solo homes' and metric == 'option_cost'")
    assert solo["value"].max() == pytest.approx(138_203)  # home 1's pre-opening staff, 2023/24
    md = (out / "summary.md").read_text()
    assert "two solo homes" in md and "pays for itself" in md
    assert "--reps=4" in md  # the command that repeats it
    assert "--rank-by=net_cost,unregistered_under_16" in md
    ranking = pd.read_csv(out / "ranking.csv", encoding="utf-8-sig")
    assert {"unregistered_under_16", "rank_unregistered_under_16"} <= set(ranking.columns)
    assert "under-16s in unregistered (unlawful) placements" in md  # the ranking rule
    assert "## Unmet demand as commissioners mean it" in md
    assert set(metrics_in(UNMET_SETTING)) <= set(summary["metric"])
    # an existing folder is not replaced without --force
    again = _cli(*args, "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr


def _assert_suppressed(summary: pd.DataFrame) -> None:
    """Published counts of children are never a number between 1 and K-1 (K = 5).

    A difference is shown in full when both counts it compares are published, and is
    otherwise left empty with the reason in `note` (never "-<5").
    """
    counts = summary[summary["metric"].map(lambda m: METRICS[m].unit != "money")]
    counts = counts[counts["metric"] != "pct_in_area"]
    diffs = ["diff_median", "diff_p5", "diff_p95"]
    for col in ("baseline_median", "option_median"):
        for text in counts[col]:
            if text == "<5":
                continue
            assert float(text) == 0 or abs(float(text)) >= 5, (col, text)
    for _, row in counts.iterrows():
        small = "<5" in (row["baseline_median"], row["option_median"])
        if small:
            assert row[diffs].isna().all(), row.to_dict()
            assert (
                row["note"] == "difference suppressed (fewer than 5 children)"
                or row["note"] == "difference suppressed (fewer than 5 child-days)"
            ), row.to_dict()
        else:
            assert all(not str(row[c]).startswith(("-<", "<")) for c in diffs), row.to_dict()
            assert pd.isna(row["note"]) or row["note"] == "", row.to_dict()
    assert not summary[diffs].isin(["-<5", "<5"]).any().any()


def test_compare_command_names_the_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{MINIMAL.as_posix()}"\n\n[[option_costs]]\nitem = "Campaign"\n')
    done = _cli("compare", str(MINIMAL), str(bad), "--years", "1", "--reps", "2")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {bad}") and "has no amount" in done.stderr
    assert "Traceback" not in done.stderr


# =========================================================================== unmet demand


@pytest.fixture(scope="module")
def unmet_comparison() -> Comparison:
    """The minimal scenario (an unregistered fallback, external homes where 1 child in 5 is
    deprived of liberty) against an option with 15 more foster households: fewer children
    wait, so the unmet-demand measures move."""
    base = minimal_raw()
    base["provision"]["external_home"]["deprivation_of_liberty_share"] = 0.2
    more = minimal_raw()
    more["provision"]["external_home"]["deprivation_of_liberty_share"] = 0.2
    more["provision"]["in_house_foster"]["households"].append({"count": 15, "places": 2})
    return compare([scenario_from(base), scenario_from(more)], years=2, reps=6, seed=3, workers=1)


def test_unmet_measures_are_month_end_averages_paired_by_replication(
    unmet_comparison: Comparison,
) -> None:
    """Each measure is worked out by hand from the Results' month-end series: summed over
    its groups, averaged over each year's 12 month ends and over all 24; the paired
    difference is the option's value minus the baseline's in the same replication."""
    cmp = unmet_comparison
    keys = metrics_in(UNMET_SETTING)
    assert keys == [c.key for c in COMMISSIONER_MEASURES]
    moved = 0
    for c in COMMISSIONER_MEASURES:
        m = METRICS[c.key]
        assert (m.unit, m.better, m.sheet) == ("children", "lower", "Unmet demand")
        by_hand = []
        for r in cmp.results:
            x = sum(r.series(metric, group) for metric, group in c.series)
            assert x.shape == (6, 24)
            by_hand.append(np.column_stack([x[:, :12].mean(1), x[:, 12:].mean(1), x.mean(1)]))
        np.testing.assert_allclose(cmp.values[c.key], np.stack(by_hand), rtol=1e-12)
        np.testing.assert_allclose(cmp.diff(c.key)[1], by_hand[1] - by_hand[0], rtol=1e-12)
        moved += bool(np.any(by_hand[1] != by_hand[0]))
    # the fixture means something: the unlawful count and more besides differ run by run
    assert np.any(cmp.values["unregistered_under_16"][0] > 0)
    assert np.any(cmp.values["deprivation_of_liberty"][0] > 0)
    assert moved >= 3, moved
    # out of area is in care within or beyond 20 miles; over 20 miles is the latter alone
    r = cmp.results[0]
    beyond = r.series("in_care_by_location", "beyond_20_miles")
    assert np.allclose(cmp.values["placed_over_20_miles"][0, :, -1], beyond.mean(1))


def test_unmet_section_of_summary_md_defines_each_measure(unmet_comparison: Comparison) -> None:
    md = summary_markdown(unmet_comparison)
    section = md.split("## Unmet demand as commissioners mean it", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(COMMISSIONER_MEASURES)
    for c, row in zip(COMMISSIONER_MEASURES, rows, strict=True):
        assert row.startswith(f"| {c.label} | {c.definition} | {c.unlawful} | "), row
    unlawful = rows[1]
    assert "yes: banned since 2021" in unlawful and "better in" in unlawful
    # the headline table does not repeat them
    headline = md.split("## Change from the baseline", 1)[1].split("\n## ", 1)[0]
    assert "Waiting for a placement" not in headline


def _hand_unmet(baseline: float, option: float, reps: int = 10) -> Comparison:
    """A hand-made comparison whose every unmet-demand measure is `baseline` children in
    the baseline and `option` in the option, in every run and year."""
    cmp = _hand_made(np.full((2, reps, 3), 1e6), 0.0)
    for key in metrics_in(UNMET_SETTING):
        v = np.full((2, reps, 4), float(baseline))
        v[1] = option
        cmp.values[key] = v
    return cmp


@pytest.mark.parametrize(
    ("baseline", "option", "level", "change"),
    [
        # the baseline is small, then the option: the change is hidden, the share is not
        (3.0, 12.0, "<5", "suppressed (fewer than 5 children); better in 0% of runs"),
        (12.0, 4.0, "12", "suppressed (fewer than 5 children); better in 100% of runs"),
        (12.0, 0.0, "12", "-12 (-12 to -12); better in 100% of runs"),  # 0 is shown
        (2.0, 1.0, "0 or fewer than 5 in every scenario: not shown (small numbers)", ""),
    ],
)
def test_unmet_section_suppresses_counts_of_1_to_4(
    baseline: float, option: float, level: str, change: str
) -> None:
    cmp = _hand_unmet(baseline, option)
    cmp.suppress_below = 5
    for row in unmet_table(cmp)[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3:] == [level, change], row
    plain = dataclasses.replace(cmp, suppress_below=0)
    cells = [c.strip() for c in unmet_table(plain)[2].strip("|").split("|")]
    assert cells[3] == level_text(baseline, "children")  # no suppression asked: as it is


def test_sentence_names_unlawful_changes_only_when_nearly_every_run_agrees() -> None:
    cmp = _hand_unmet(6.0, 6.0)
    quiet = sentence(cmp, 1)
    assert "unregistered" not in quiet and "liberty" not in quiet  # nothing moved: no clause
    cmp.values["unregistered_under_16"][1, :, -1] = 2.0  # fewer in every run
    cmp.values["deprivation_of_liberty"][1, :, -1] = 9.0
    cmp.values["deprivation_of_liberty"][1, :1, -1] = 6.0  # more in 9 runs of 10: not >9
    text = sentence(cmp, 1)
    assert text.endswith(
        "It has fewer under-16s in unregistered (unlawful) placements than the baseline "
        "in every run."
    ), text
    cmp.values["deprivation_of_liberty"][1, :, -1] = 9.0  # now more in every run
    assert sentence(cmp, 1).endswith(
        "than the baseline in every run, and more children deprived of their liberty in every run."
    )
    # a lawful measure that moves (children out of area) is left to the tables
    cmp.values["placed_out_of_area"][1, :, -1] = 1.0
    assert "out of area" not in sentence(cmp, 1)


def test_after_care_is_said_only_when_its_difference_has_one_sign() -> None:
    cmp = _hand_unmet(6.0, 6.0)
    after = np.zeros((2, 10, 4))
    after[1, :, -1] = [9e3, -2e3, 9e3, 9e3, -1e3, 9e3, 9e3, 9e3, 9e3, 9e3]  # 8 in 10 dearer
    cmp.values["after_care_cost"] = after
    assert "paid after care" not in sentence(cmp, 1)  # noise: a median of £9k means nothing
    after[1, :, -1] = [9e3, 2e3, 9e3, 9e3, 1e3, 9e3, 9e3, -3e3, 9e3, 9e3]  # 9 in 10
    assert "with £9k more paid after care" in sentence(cmp, 1)
