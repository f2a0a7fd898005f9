"""Parameter uncertainty: numbers given as { median, interval90 }, drawn per replication.

The draws must follow the stated interval, be reproducible whatever the number of workers,
be shared between an option and its baseline (common random numbers), and leave every
other random number alone, so that switching them off gives chance alone exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cli, minimal_raw, scenario_from
from hypothesis import given
from hypothesis import strategies as st

from sim.runs.montecarlo import run, spawn_seeds
from sim.runs.parameters import drawn, values
from sim.scenario.load import load
from sim.scenario.uncertain import Interval, scale_of
from sim.scenario.write import dumps

ENTRIES = {"median": 60.0, "interval90": [40.0, 80.0]}


def uncertain_minimal() -> dict:
    raw = minimal_raw()
    raw["entries"]["per_year"] = dict(ENTRIES)
    raw["exits"]["return_home"]["rate_per_year"]["5-9"] = {
        "median": 0.2,
        "interval90": [0.12, 0.35],
    }
    return raw


def test_the_scenario_holds_medians_and_keeps_the_intervals() -> None:
    s = scenario_from(uncertain_minimal())
    assert s.entries.per_year == 60.0
    assert s.exits["return_home"].rate_per_year["5-9"] == 0.2
    assert set(s.uncertainty) == {"entries.per_year", "exits.return_home.rate_per_year.5-9"}
    # written back where they were, so a copy of the scenario reads back the same
    data = s.file_data()
    assert data["entries"]["per_year"] == ENTRIES
    assert "uncertainty" not in data


def test_draws_follow_the_stated_interval() -> None:
    """4,000 replications' draws: median and 5th/95th percentiles at the stated values.

    The sd of a sample 5th percentile of n=4,000 normal draws is about 0.033 sd of the
    distribution (sqrt(p(1-p)/n)/phi(1.645)); on the log scale here 1 sd is about 0.13, so
    0.02 relative error is over 4 such sd: chance alone does not fail this.
    """
    s = scenario_from(uncertain_minimal())
    v = values(s, spawn_seeds(7, 4000))["entries.per_year"]
    assert np.median(v) == pytest.approx(60, rel=0.02)
    assert np.quantile(v, 0.05) == pytest.approx(40, rel=0.02)
    assert np.quantile(v, 0.95) == pytest.approx(80, rel=0.02)
    rate = values(s, spawn_seeds(7, 4000))["exits.return_home.rate_per_year.5-9"]
    assert np.quantile(rate, 0.05) == pytest.approx(0.12, rel=0.03)
    assert np.quantile(rate, 0.95) == pytest.approx(0.35, rel=0.03)


@given(
    median=st.floats(0.01, 0.99),
    below=st.floats(0.01, 0.99),
    above=st.floats(0.01, 0.99),
    z=st.floats(-8, 8),
)
def test_a_probability_is_always_drawn_between_0_and_1(
    median: float, below: float, above: float, z: float
) -> None:
    low, high = median * below, median + (1 - median) * above
    v = Interval(median, low, high, scale_of("offer_probability")).value(z)
    assert 0 <= v <= 1
    assert (v >= median) == (z >= 0) or v == pytest.approx(median)


def test_an_option_shares_its_baselines_draws(tmp_path: Path) -> None:
    """An option that sets a new number keeps the base's uncertainty around it, and each
    replication draws the same deviate in both: their values keep a constant ratio."""
    (tmp_path / "base.toml").write_text(dumps(uncertain_minimal()))
    (tmp_path / "option.toml").write_text(
        'extends = "base.toml"\n[scenario]\nname = "option"\n[entries]\nper_year = 54\n'
    )
    base, option = load(tmp_path / "base.toml").model, load(tmp_path / "option.toml").model
    assert option.uncertainty["entries.per_year"].median == 54
    seeds = spawn_seeds(3, 200)
    ratio = values(option, seeds)["entries.per_year"] / values(base, seeds)["entries.per_year"]
    assert np.allclose(ratio, 0.9)
    # an exit rate the option did not touch is drawn identically
    key = "exits.return_home.rate_per_year.5-9"
    assert np.array_equal(values(option, seeds)[key], values(base, seeds)[key])


def test_same_seed_same_results_whatever_the_workers_and_chance_alone_is_unchanged() -> None:
    s = scenario_from(uncertain_minimal())
    one = run(s, years=2, reps=6, seed=11, workers=1, progress=False)
    two = run(s, years=2, reps=6, seed=11, workers=2, progress=False, chunk_size=2)
    assert np.array_equal(one.monthly, two.monthly)
    # off: exactly the run of the same scenario written with plain medians
    off = run(s, years=2, reps=6, seed=11, workers=1, progress=False, parameter_uncertainty=False)
    raw = minimal_raw()
    raw["exits"]["return_home"]["rate_per_year"]["5-9"] = 0.2
    plain = scenario_from(raw)
    assert np.array_equal(off.monthly, run(plain, years=2, reps=6, seed=11, workers=1).monthly)
    assert not np.array_equal(one.monthly, off.monthly)


def test_a_drawn_replication_differs_only_in_the_drawn_numbers() -> None:
    s = scenario_from(uncertain_minimal())
    d = drawn(s, spawn_seeds(5, 1)[0])
    assert d.entries.per_year != s.entries.per_year
    assert d.provision is s.provision and d.matching is s.matching
    assert d.entries.age_mix == s.entries.age_mix


def test_parameter_uncertainty_widens_the_band() -> None:
    """Entries anywhere from 40 to 80 a year must spread the children in care after 3 years
    far more than chance does at 60 (Poisson sd of ~180 entries is ~13): the 10-90% band is
    at least 1.5 times as wide. With 120 replications the band's ends are each within a few
    children, far inside that margin."""
    s = scenario_from(uncertain_minimal())
    kw = {"years": 3, "reps": 120, "seed": 2, "workers": 2, "progress": False}
    on = run(s, **kw).series("in_care", "total")[:, -1]
    off = run(s, parameter_uncertainty=False, **kw).series("in_care", "total")[:, -1]

    def width(x: np.ndarray) -> float:
        return float(np.quantile(x, 0.9) - np.quantile(x, 0.1))

    assert width(on) > 1.5 * width(off)


def test_a_bad_interval_is_named_by_file_and_key(tmp_path: Path) -> None:
    raw = minimal_raw()
    raw["entries"]["per_year"] = {"median": 60, "interval90": [70, 80]}
    path = tmp_path / "bad.toml"
    path.write_text(dumps(raw))
    r = cli("validate", str(path))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "bad.toml" in r.stderr and "entries.per_year" in r.stderr
    assert "must hold the median" in r.stderr


def test_the_command_line_can_switch_it_off(tmp_path: Path) -> None:
    path = tmp_path / "u.toml"
    path.write_text(dumps(uncertain_minimal()))
    outs = []
    for extra in ([], ["--no-parameter-uncertainty"]):
        out = tmp_path / f"out{len(outs)}"
        r = cli("run", str(path), "--years", "1", "--reps", "4", "--out", str(out), *extra)
        assert r.returncode == 0, r.stderr
        outs.append((out / "summary_by_year.csv").read_text())
    assert outs[0] != outs[1]
