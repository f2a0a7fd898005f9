"""A region: councils sharing an external market (issue 16).

What must hold: a one-council region whose market never fills is the council's plain run,
number for number; a replication of a region is the same on any number of workers; the
pool is never filled past its places; prices follow the response table; one council
opening homes leaves more of a fixed pool to its neighbours; region files are checked
with messages naming file, line and key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from sim.engine.market import Response
from sim.engine.model import simulate
from sim.engine.region import simulate_region
from sim.runs.region import RegionResults, run_region
from sim.scenario.region import load_region

ROOT = Path(__file__).resolve().parents[1]
DARLINGTON = ROOT / "scenarios" / "darlington" / "baseline.toml"
SOLO_HOMES = ROOT / "scenarios" / "darlington" / "solo-homes.toml"
LINKS = 'market = { external_home = "homes", ifa = "agency", ifa_spot = "agency" }'


def _region(tmp: Path, body: str, name: str = "region.toml") -> Path:
    path = tmp / name
    path.write_text(body, encoding="utf-8")
    return path


def _one_council(tmp: Path, homes: str, agency: str = "places = 100000") -> Path:
    return _region(
        tmp,
        f"""
[region]
name = "Darlington alone"

[councils.darlington]
scenario = "{DARLINGTON.as_posix()}"
{LINKS}

[market.homes]
{homes}

[market.agency]
{agency}
""",
    )


def _two_councils(
    tmp: Path, a: Path = DARLINGTON, name: str = "region.toml", extra: str = ""
) -> Path:
    # two Darlingtons sharing a tight pool of children's homes that councils outside the
    # model also fill: the pool is full much of the time
    return _region(
        tmp,
        f"""
[region]
name = "Two councils"

[councils.a]
scenario = "{a.as_posix()}"
{LINKS}

[councils.b]
scenario = "{DARLINGTON.as_posix()}"
{LINKS}

[market.homes]
places = 90
occupied_at_start = 1.0
outside_placements_per_year = 60
outside_stay_days = {{ dist = "exponential", mean = 400 }}
response = [
  {{ occupancy = 0.8, offer_factor = 1.0, price_factor = 1.0 }},
  {{ occupancy = 1.0, offer_factor = 0.6, price_factor = 1.2 }},
]

[market.agency]
places = 100000
{extra}
""",
        name,
    )


def test_one_council_region_with_an_unfilled_market_is_the_plain_run(tmp_path: Path) -> None:
    region = load_region(_one_council(tmp_path, "places = 100000"))
    model = region.councils["darlington"].model
    for s in (1, 2, 3):
        alone = simulate(model, 3, np.random.SeedSequence(s))
        within = simulate_region(region.spec, {"darlington": model}, 3, np.random.SeedSequence(s))
        np.testing.assert_array_equal(within.councils["darlington"].monthly, alone.monthly)
        np.testing.assert_array_equal(within.councils["darlington"].yearly, alone.yearly)


def test_one_council_region_draws_the_plain_runs_uncertain_numbers(tmp_path: Path) -> None:
    """With numbers known only within an interval, each replication draws its own values:
    the first council of a region draws the same values as its plain run, so the results
    per council are the plain run's (Monte Carlo level, parameter uncertainty on)."""
    from sim.runs.montecarlo import run

    uncertain = tmp_path / "uncertain.toml"
    uncertain.write_text(
        f'extends = "{DARLINGTON.as_posix()}"\n\n[entries]\n'
        "per_year = { median = 88.4, interval90 = [70, 110] }\n",
        encoding="utf-8",
    )
    region = load_region(
        _region(
            tmp_path,
            f'[region]\nname = "alone"\n\n[councils.d]\nscenario = "{uncertain.as_posix()}"\n',
        )
    )
    assert region.councils["d"].model.uncertainty
    within = run_region(region, years=2, reps=5, seed=4, workers=1, progress=False)
    alone = run(region.councils["d"], years=2, reps=5, seed=4, workers=1, progress=False)
    np.testing.assert_array_equal(within.councils["d"].monthly, alone.monthly)
    np.testing.assert_array_equal(within.councils["d"].yearly, alone.yearly)


def test_a_flat_price_factor_multiplies_the_pooled_cost_exactly(tmp_path: Path) -> None:
    """Prices follow the table: at x1.5 wherever the pool stands (and offers as alone),
    external homes cost exactly 1.5 times what they cost alone, everything else the same."""
    table = "response = [{ occupancy = 0.0, offer_factor = 1.0, price_factor = 1.5 }]"
    region = load_region(_one_council(tmp_path, f"places = 100000\n{table}"))
    model = region.councils["darlington"].model
    res = run_region(region, years=3, reps=4, seed=5, workers=1, progress=False)
    from sim.runs.montecarlo import run

    alone = run(model, years=3, reps=4, seed=5, workers=1, progress=False)
    within = res.councils["darlington"]
    np.testing.assert_allclose(
        within.series("cost", "external_home"), 1.5 * alone.series("cost", "external_home")
    )
    np.testing.assert_array_equal(within.series("cost", "ifa"), alone.series("cost", "ifa"))
    np.testing.assert_array_equal(
        within.series("in_care", "total"), alone.series("in_care", "total")
    )


def test_response_is_interpolated_between_rows_and_flat_beyond() -> None:
    r = Response([(0.8, 1.0, 1.0), (1.0, 0.5, 1.3)])
    assert r.at(0.5) == (1.0, 1.0)
    offer, price = r.at(0.9)
    assert offer == pytest.approx(0.75) and price == pytest.approx(1.15)
    assert r.at(1.2) == (0.5, 1.3)


def test_prices_rise_as_the_pool_fills(tmp_path: Path) -> None:
    """In a pool that is full much of the time, the month-end price factor follows the
    table at the month-end occupancy, and new placements there cost more than alone."""
    region = load_region(_two_councils(tmp_path))
    res = run_region(region, years=3, reps=6, seed=11, workers=1, progress=False)
    occ = res.market_series("homes", "occupied") / 90
    price = res.market_series("homes", "price_factor")
    expected = np.interp(occ, [0.8, 1.0], [1.0, 1.2])
    np.testing.assert_allclose(price, expected)
    assert price.max() > 1.1


def test_the_pool_is_never_filled_past_its_places(tmp_path: Path) -> None:
    region = load_region(_two_councils(tmp_path))
    res = run_region(region, years=5, reps=6, seed=3, workers=1, progress=False)
    occupied = res.market_series("homes", "occupied")
    # the councils' starting children may overfill it at the start; after that, no
    # placement is made into a full pool (a few months for children to leave)
    assert occupied[:, 12:].max() <= 90
    assert res.market_series("homes", "outside_refused").sum() > 0  # it was full at times


def test_same_seed_same_results_on_one_or_two_workers(tmp_path: Path) -> None:
    region = load_region(_two_councils(tmp_path))
    one = run_region(region, years=2, reps=6, seed=9, workers=1, progress=False)
    two = run_region(region, years=2, reps=6, seed=9, workers=2, progress=False, chunk_size=2)
    for name in ("a", "b"):
        np.testing.assert_array_equal(one.councils[name].monthly, two.councils[name].monthly)
    np.testing.assert_array_equal(one.markets, two.markets)


def _more_homes(tmp: Path) -> Path:
    """Darlington with four more three-bed homes of its own from May 2023."""
    path = tmp / "more-homes.toml"
    path.write_text(
        f"""extends = "{DARLINGTON.as_posix()}"

[scenario]
name = "Darlington: four more homes"

[provision.in_house_home]
homes = [
  {{ name = "Children's home A", beds = 3 }},
  {{ name = "Children's home B", beds = 3 }},
  {{ name = "Children's home C (Cedars from December 2023)", beds = 3 }},
  {{ name = "Replacement children's home", beds = 3, opens = 2023-12-01 }},
  {{ name = "New home 1", beds = 3, opens = 2023-05-01 }},
  {{ name = "New home 2", beds = 3, opens = 2023-05-01 }},
  {{ name = "New home 3", beds = 3, opens = 2023-05-01 }},
  {{ name = "New home 4", beds = 3, opens = 2023-05-01 }},
]
""",
        encoding="utf-8",
    )
    return path


def _fixed_pool(tmp: Path, a: Path, name: str) -> Path:
    # a fixed pool of 40 external home places shared by two councils and nobody else,
    # fewer than the two would fill alone (about 25 each): contested all the time
    return _region(
        tmp,
        f"""
[region]
name = "Two councils, a fixed pool"

[councils.a]
scenario = "{a.as_posix()}"
{LINKS}

[councils.b]
scenario = "{DARLINGTON.as_posix()}"
{LINKS}

[market.homes]
places = 40

[market.agency]
places = 100000
""",
        name,
    )


def test_the_dask_engine_gives_the_local_engines_numbers(tmp_path: Path) -> None:
    """Whole replications go to Dask workers as to local processes: same seeds, same
    numbers (a region's replication is never split)."""
    pytest.importorskip("dask.distributed")
    region = load_region(_two_councils(tmp_path))
    local = run_region(region, years=1, reps=4, seed=9, workers=1, progress=False)
    dask = run_region(region, years=1, reps=4, seed=9, workers=2, progress=False, engine="dask")
    for name in ("a", "b"):
        np.testing.assert_array_equal(local.councils[name].monthly, dask.councils[name].monthly)
    np.testing.assert_array_equal(local.markets, dask.markets)


def test_one_council_opening_homes_leaves_more_of_the_pool_to_its_neighbour(
    tmp_path: Path,
) -> None:
    """Council a opens four homes of its own; b is unchanged. With a fixed pool of external
    homes that the two share, a uses fewer of the pool's places and b more, and b's unmet
    demand does not rise.

    Paired replication by replication (b draws the same numbers in both runs). 40 pairs of
    4 years: b's children in external homes rise by about 2 (from about 19), many standard
    errors of the paired mean (under 0.3). b's child-days not suitably placed barely move
    (most children the pool now takes were in other suitable places, such as supported
    accommodation); the paired sd is about 500, so "does not rise" is tested as a mean
    difference below two standard errors of it: a rise of the size the extra places make
    for a (a fall of several hundred child-days) would fail it.
    """
    base = load_region(_fixed_pool(tmp_path, DARLINGTON, "base.toml"))
    option = load_region(_fixed_pool(tmp_path, _more_homes(tmp_path), "option.toml"))
    kw = {"years": 4, "reps": 40, "seed": 2024, "workers": 2, "progress": False}
    r0, r1 = run_region(base, **kw), run_region(option, **kw)

    def pooled(r: RegionResults, council: str) -> np.ndarray:
        return r.councils[council].series("in_care", "external_home")[:, 12:].mean(axis=1)

    assert (pooled(r1, "a") - pooled(r0, "a")).mean() < -2
    more = pooled(r1, "b") - pooled(r0, "b")
    assert more.mean() > 1 and more.mean() > 4 * more.std(ddof=1) / np.sqrt(len(more))
    b0 = r0.councils["b"].series("unmet_child_days", "total").sum(axis=1)
    b1 = r1.councils["b"].series("unmet_child_days", "total").sum(axis=1)
    d = b1 - b0
    assert d.mean() < 2 * d.std(ddof=1) / np.sqrt(len(d))


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ("[market.homes]\nplaces = 0", "market.homes.places", "greater than or equal to 1"),
        (
            "[market.homes]\nplaces = 10\nresponse = [{ occupancy = 0.9, offer_factor = 1, "
            "price_factor = 1 }, { occupancy = 0.5, offer_factor = 1, price_factor = 1 }]",
            "market.homes",
            "increasing order of occupancy",
        ),
    ],
)
def test_validate_names_the_key_of_a_bad_market(
    tmp_path: Path, body: str, key: str, says: str
) -> None:
    path = _region(
        tmp_path,
        f'[region]\nname = "x"\n\n[councils.d]\nscenario = "{DARLINGTON.as_posix()}"\n\n{body}\n',
    )
    out = cli("validate", str(path))
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert f"[{key}]" in out.stderr and says in out.stderr
    assert "region.toml:" in out.stderr


@pytest.mark.parametrize(
    ("links", "says"),
    [
        ('market = { nowhere = "homes" }', "has no provision 'nowhere'"),
        ('market = { in_house_foster = "homes" }', "only offer-type provisions"),
        ('market = { external_home = "elsewhere" }', "no market 'elsewhere'"),
    ],
)
def test_validate_names_a_bad_link(tmp_path: Path, links: str, says: str) -> None:
    path = _region(
        tmp_path,
        f'[region]\nname = "x"\n\n[councils.d]\nscenario = "{DARLINGTON.as_posix()}"\n'
        f"{links}\n\n[market.homes]\nplaces = 10\n",
    )
    out = cli("validate", str(path))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert says in out.stderr and "councils.d.market" in out.stderr


def test_validate_refuses_a_missing_council_scenario(tmp_path: Path) -> None:
    path = _region(tmp_path, '[region]\nname = "x"\n\n[councils.d]\nscenario = "nope.toml"\n')
    out = cli("validate", str(path))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "[councils.d.scenario]" in out.stderr and "not a file" in out.stderr


def test_run_and_compare_a_region_from_the_command_line(tmp_path: Path) -> None:
    base = _two_councils(tmp_path)
    option = _region(
        tmp_path,
        f'extends = "region.toml"\n\n[region]\nname = "a opens homes"\n\n[councils.a]\n'
        f'scenario = "{SOLO_HOMES.as_posix()}"\n',
        "option.toml",
    )
    out = cli("validate", str(base), str(option))
    assert out.returncode == 0, out.stderr
    run_out = tmp_path / "run"
    done = cli("run", str(base), "--reps", "4", "--years", "1", "--out", str(run_out), "--quiet")
    assert done.returncode == 0, done.stderr
    summary = (run_out / "summary.md").read_text(encoding="utf-8")
    assert "| a |" in summary and "| **region** |" in summary and "homes (90 places)" in summary
    assert "shared pools" in (run_out / "b" / "summary.md").read_text(encoding="utf-8")
    assert (run_out / "markets.csv").is_file() and (run_out / "chart_markets.png").is_file()
    cmp_out = tmp_path / "cmp"
    done = cli(
        "compare", str(base), str(option), "--reps", "4", "--years", "1", "--out", str(cmp_out)
    )
    assert done.returncode == 0, done.stderr
    assert "a opens homes" in done.stdout
    assert (cmp_out / "a" / "options.xlsx").is_file() and (cmp_out / "b" / "report.html").is_file()
    text = (cmp_out / "summary.md").read_text(encoding="utf-8")
    assert "| **region** |" in text and "## Markets at the end of the run" in text


def test_an_option_that_only_changes_a_market_is_read_as_a_region(tmp_path: Path) -> None:
    """A block contract takes beds out of the pool: the option file extends the region and
    sets only `[market...]`, and is still recognised and checked as a region file."""
    _two_councils(tmp_path)
    option = _region(tmp_path, 'extends = "region.toml"\n\n[market.homes]\nplaces = 60\n', "o.toml")
    out = cli("validate", str(option))
    assert out.returncode == 0, out.stderr
    assert "homes: 60 places" in out.stdout


@pytest.mark.parametrize(
    "stay",
    [
        {"dist": "fixed", "value": 300.0},
        {"dist": "exponential", "mean": 300.0},
        {"dist": "uniform", "low": 100.0, "high": 500.0},
        {"dist": "lognormal", "median": 250.0, "sigma": 0.8},
    ],
)
def test_time_left_of_a_stay_under_way_is_the_equilibrium_residual(stay: dict) -> None:
    """The mean time left of a stay under way in a steady state is E[L^2] / (2 E[L]).
    200,000 draws: the standard error is under 0.5% of the mean for these laws, so 2%
    is a safe tolerance."""
    from pydantic import TypeAdapter

    from sim.engine.draws import Uniforms, draw
    from sim.engine.market import length_biased, time_left
    from sim.scenario.schema import Distribution

    dist = TypeAdapter(Distribution).validate_python(stay)
    rng = Uniforms(np.random.default_rng(1))
    lengths = np.array([draw(dist, rng.random) for _ in range(200_000)])
    expected = (lengths**2).mean() / (2 * lengths.mean())
    biased = length_biased(dist)
    left = np.array([time_left(dist, rng, biased) for _ in range(200_000)])
    assert left.mean() == pytest.approx(expected, rel=0.02)


def test_a_pool_in_a_steady_state_at_the_start_stays_in_it(tmp_path: Path) -> None:
    """Outside demand alone (no council links its provisions): 400 placements a year of
    lognormal stays with mean 500 days fill 400 x 500 / 365 = 548 places on average. A pool
    of 1,000 places starting 54.8% full stays there: the mean occupancy of 20 runs at each
    year end is within 3% of it (Poisson sd of 548 is 23, 4%; of a mean of 20, 1%)."""
    mean = 500.0
    sigma = 0.8
    median = mean / np.exp(sigma**2 / 2)
    region = load_region(
        _region(
            tmp_path,
            f'[region]\nname = "steady"\n\n[councils.d]\nscenario = "{DARLINGTON.as_posix()}"\n\n'
            "[market.homes]\nplaces = 1000\noccupied_at_start = 0.548\n"
            "outside_placements_per_year = 400\n"
            f'outside_stay_days = {{ dist = "lognormal", median = {median}, sigma = {sigma} }}\n',
        )
    )
    res = run_region(region, years=3, reps=20, seed=8, workers=1, progress=False)
    occupied = res.market_series("homes", "occupied")
    for month in (11, 23, 35):
        assert occupied[:, month].mean() == pytest.approx(548, rel=0.03)


def test_a_named_pipe_is_never_opened_as_a_region_or_council(tmp_path: Path) -> None:
    """Telling a region file from a scenario reads the file's text: a named pipe (or a
    file that extends one) must not be opened, or the command would hang."""
    import os

    from sim.scenario.region import is_region_file

    os.mkfifo(tmp_path / "pipe.toml")
    (tmp_path / "option.toml").write_text('extends = "pipe.toml"\n', encoding="utf-8")
    assert not is_region_file(tmp_path / "pipe.toml")
    assert not is_region_file(tmp_path / "option.toml")
    region = _region(
        tmp_path, '[region]\nname = "x"\n\n[councils.d]\nscenario = "pipe.toml"\n', "r.toml"
    )
    out = cli("validate", str(region), timeout=60)
    assert out.returncode != 0 and "not a file" in out.stderr
