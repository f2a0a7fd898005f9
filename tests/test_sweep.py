"""`sufficiency sweep`: parsing --vary, setting keys, and a small sweep end to end."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from conftest import cli

from sim.common.errors import ScenarioError, UserError
from sim.runs.sweep import (
    build_variants,
    parse_key,
    parse_vary,
    read_grid,
    rows,
    run_kwargs,
    run_sweep,
    set_path,
)
from sim.scenario.load import load

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "data" / "minimal.toml"
RECRUIT = "provision.in_house_foster.recruitment_per_year"
#: a small, quick sweep for the CLI tests
QUICK = ("--years", "1", "--reps", "2", "--workers", "1")


# --------------------------------------------------------------------------- parsing


def test_range_includes_stop() -> None:
    a = parse_vary(f"{RECRUIT}=0:30:5")
    assert a.key == RECRUIT
    assert a.path == ("provision", "in_house_foster", "recruitment_per_year")
    assert a.values == (0, 5, 10, 15, 20, 25, 30)
    assert all(isinstance(v, int) for v in a.values)


def test_float_range_has_no_drift() -> None:
    assert parse_vary("x=0.1:0.5:0.1").values == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert parse_vary("x=10:0:-5").values == (10, 5, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k=2024-04-01,2025-04-01", (dt.date(2024, 4, 1), dt.date(2025, 4, 1))),
        ("k=0.1, 0.2", (0.1, 0.2)),
        ("k=true,false", (True, False)),
        ("k=80,93", (80, 93)),
        ("k=in_area,beyond_20_miles", ("in_area", "beyond_20_miles")),
        (
            "k=[]|[{name='Solo 1', beds=1, opens=2024-04-01}]",
            ([], [{"name": "Solo 1", "beds": 1, "opens": dt.date(2024, 4, 1)}]),
        ),
    ],
)
def test_value_lists(text: str, expected: tuple) -> None:
    values = parse_vary(text).values
    assert values == expected
    assert [type(v) for v in values] == [type(v) for v in expected]


def test_key_with_index_and_quotes() -> None:
    assert parse_key("provision.solo_home.homes[0].opens") == (
        "provision",
        "solo_home",
        "homes",
        0,
        "opens",
    )
    assert parse_key('entries.age_mix."10-15"') == ("entries", "age_mix", "10-15")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("entries.per_year", "KEY=VALUES"),
        ("entries.per_year=", "no values"),
        ("entries..per_year=1", "cannot read the key"),
        ("entries.per_year=1,,2", "empty value"),
        ("entries.per_year=1:0:1", "empty"),
        ("entries.per_year=0:10:0", "must not be 0"),
        ("entries.per_year=a:b:c", "start:stop:step"),
        ("entries.per_year=@!", "cannot read the value"),
    ],
)
def test_bad_syntax_is_a_clear_user_error(text: str, words: str) -> None:
    with pytest.raises(UserError, match=words):
        parse_vary(text)


def test_grid_file(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        "[vary]\n"
        f'"{RECRUIT}" = "0:30:10"\n'
        "\"provision.solo_home.homes\" = [[], [{name = 'Solo 1', beds = 1, opens = 2024-04-01}]]\n"
        "entries.per_year = [50, 60]\n"
    )
    axes = read_grid(grid)
    assert [a.key for a in axes] == [RECRUIT, "provision.solo_home.homes", "entries.per_year"]
    assert axes[0].values == (0, 10, 20, 30)
    assert axes[1].values[0] == []
    bad = tmp_path / "bad.toml"
    bad.write_text("[vary]\nentries.per_year = 5\n")
    with pytest.raises(UserError, match=r"entries\.per_year must be a list"):
        read_grid(bad)


# --------------------------------------------------------------------------- setting keys


def test_set_nested_and_list_index() -> None:
    raw = {"a": {"b": {"c": 1}, "homes": [{"opens": "x"}, {"opens": "y"}]}}
    set_path(raw, parse_key("a.b.c"), 5)
    set_path(raw, parse_key("a.homes[1].opens"), dt.date(2025, 4, 1))
    set_path(raw, parse_key("a.b.new"), 2)  # a missing last key of a table is created
    assert raw == {
        "a": {"b": {"c": 5, "new": 2}, "homes": [{"opens": "x"}, {"opens": dt.date(2025, 4, 1)}]}
    }


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("a.nope.c", "no a.nope"),
        ("a.homes[2].opens", r"2 item\(s\), so there is no \[2\]"),
        ("a.b.c.d", "is a value"),
        ("a.b[0]", "not a list"),
    ],
)
def test_missing_path_names_the_key(key: str, words: str) -> None:
    raw = {"a": {"b": {"c": 1}, "homes": [{}, {}]}}
    with pytest.raises(UserError, match=words) as err:
        set_path(raw, parse_key(key), 1, key)
    assert key in str(err.value)


def test_variants_are_validated_before_running() -> None:
    loaded = load(MINIMAL)
    with pytest.raises(ScenarioError) as err:
        build_variants(loaded, [parse_vary(f"{RECRUIT}=4,-5"), parse_vary("entries.per_year=60")])
    text = str(err.value)
    assert "variant 2" in text and RECRUIT in text and "-5" in text
    variants = build_variants(
        loaded, [parse_vary(f"{RECRUIT}=0,30"), parse_vary("entries.per_year=50,70")]
    )
    assert [(v.number, v.values) for v in variants] == [
        (1, (0, 50)),
        (2, (0, 70)),
        (3, (30, 50)),
        (4, (30, 70)),
    ]
    assert variants[3].model.provision["in_house_foster"].recruitment_per_year == 30
    assert loaded.raw["provision"]["in_house_foster"]["recruitment_per_year"] == 4  # untouched


def test_engine_arguments_only_when_supported() -> None:
    def old_run(scenario, years=5, reps=100, seed=1, workers=None, progress=None): ...

    def new_run(
        scenario,
        years=5,
        reps=100,
        seed=1,
        workers=None,
        progress=None,
        engine="local",
        scheduler=None,
    ): ...

    assert run_kwargs(old_run, None, None) == {}
    assert run_kwargs(new_run, "dask", None) == {"engine": "dask"}
    with pytest.raises(UserError, match="--engine"):
        run_kwargs(old_run, "dask", None)


# --------------------------------------------------------------------------- running


def test_more_foster_recruitment_never_raises_unmet_need() -> None:
    sw = run_sweep(
        load(MINIMAL), [parse_vary(f"{RECRUIT}=0,30")], years=1, reps=6, seed=20240401, workers=1
    )
    ref, more = rows(sw)
    assert ref["unmet_child_days_diff_median"] == 0
    assert more["unmet_child_days_diff_median"] <= 0
    assert more["unmet_child_days_median"] <= ref["unmet_child_days_median"]
    # common random numbers: the same variant twice gives exactly zero differences
    same = run_sweep(
        load(MINIMAL), [parse_vary("entries.per_year=60,60.0")], years=1, reps=4, seed=3, workers=1
    )
    assert rows(same)[1]["cost_diff_gbp_p5"] == rows(same)[1]["cost_diff_gbp_p95"] == 0


def test_sweep_command_writes_three_files(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = cli(
        "sweep",
        str(MINIMAL),
        "--vary",
        f"{RECRUIT}=0,30",
        "--vary",
        "provision.solo_home.homes[0].opens=2024-04-01,2025-04-01",
        "--years",
        "1",
        "--reps",
        "6",
        "--workers",
        "1",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("sweep.csv", "sweep.png", "sweep.md"):
        assert (out / name).stat().st_size > 0, name
    with (out / "sweep.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 4
    assert [r[RECRUIT] for r in table] == ["0", "0", "30", "30"]
    assert table[1]["provision.solo_home.homes[0].opens"] == "2025-04-01"
    for col in (
        "total_cost_gbp_median",
        "total_cost_gbp_p10",
        "total_cost_gbp_p90",
        "unmet_child_days_median",
        "unmet_children_end_median",
        "in_care_end_median",
        "placed_in_area_pct_end_median",
        "cost_diff_gbp_median",
        "cost_diff_gbp_p5",
        "unmet_child_days_diff_p95",
    ):
        assert col in table[0]
    assert float(table[0]["cost_diff_gbp_median"]) == 0
    assert float(table[0]["total_cost_gbp_p10"]) <= float(table[0]["total_cost_gbp_median"])
    md = (out / "sweep.md").read_text()
    assert "sufficiency sweep" in md and "| 4 |" in md
    assert len(list((out / "variants").glob("*.toml"))) == 4
    assert "cost (median)" in proc.stdout  # the table at the end
    again = cli("sweep", str(MINIMAL), "--vary", f"{RECRUIT}=0,30", *QUICK, "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr


def test_invalid_value_exits_2_naming_variant_and_key(tmp_path: Path) -> None:
    out = tmp_path / "bad"
    proc = cli("sweep", str(MINIMAL), "--vary", f"{RECRUIT}=4,-5", *QUICK, "--out", str(out))
    assert proc.returncode == 2
    assert "variant 2" in proc.stderr and RECRUIT in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    missing = cli("sweep", str(MINIMAL), "--vary", "provision.nope.beds=1", "--out", str(out))
    assert missing.returncode == 2 and "provision.nope" in missing.stderr
    nothing = cli("sweep", str(MINIMAL), "--out", str(out))
    assert nothing.returncode == 2 and "nothing to sweep" in nothing.stderr


def test_variants_are_the_scenarios_own_text_with_the_varied_lines_changed(
    tmp_path: Path,
) -> None:
    """A sweep of an option that extends its baseline: each variant file loads on its own
    (variants/ holds no baseline.toml), gives the variant's model, keeps the comments and
    sources of both files, and differs from the other variant only in the varied line."""
    from sim.reports.sweep import write_sweep

    option = ROOT / "scenarios" / "darlington" / "solo-homes.toml"
    loaded = load(option)
    sw = run_sweep(loaded, [parse_vary(f"{RECRUIT}=7.7,20")], years=1 / 12, reps=1, seed=3)
    out = write_sweep(sw, tmp_path / "sweep")
    files = sorted((out / "variants").glob("*.toml"))
    assert [f.name for f in files] == ["1.toml", "2.toml"]
    texts = [f.read_text(encoding="utf-8") for f in files]
    for f, text, result in zip(files, texts, sw.results, strict=True):
        again = load(f)
        assert again.model == result.variant.model
        assert again.sources == (f,)  # no extends: the variant is the whole scenario
        assert "# Darlington option: open two solo children's homes." in text
        assert "# Cost per bed per week, paid whether the bed is filled or not" in text
        assert "# [DS] in-house foster care, incl. fees and 30% on-costs" in text
    one, two = (t.splitlines() for t in texts)
    differ = [(a, b) for a, b in zip(one, two, strict=True) if a != b]
    assert len(one) == len(two) and len(differ) == 2, differ
    assert differ[0][1].startswith("# Sweep variant 2 of solo-homes.toml: ")
    # variant 1 has the scenario's own value, so its line (and comment) are the file's
    assert differ[1] == (
        "recruitment_per_year = 7.7          # mean of 7 (2022/23), 5 (2023/24), 11 (2024/25) "
        "new carers [DSA]; taken as households",
        f"recruitment_per_year = 20   # the sweep varies {RECRUIT}; solo-homes.toml has 7.7",
    )


# --------------------------------------------------------------------------- sensitivity


def test_one_at_a_time_changes_one_key_per_variant_and_keeps_the_rest_as_written() -> None:
    loaded = load(MINIMAL)
    axes = [parse_vary(f"{RECRUIT}=0,30"), parse_vary("entries.per_year=40,80")]
    variants = build_variants(loaded, axes, one_at_a_time=True)
    # the scenario as written, then 2 values of each key alone (not the 2 x 2 grid)
    assert len(variants) == 1 + 2 + 2
    written = variants[0]
    assert written.varies is None and written.raw == loaded.raw
    for v in variants[1:]:
        changed = [a.key for a, x, w in zip(axes, v.values, written.values, strict=True) if x != w]
        assert changed == [axes[v.varies].key]  # type: ignore[index]
    assert [v.values[0] for v in variants if v.varies == 0] == [0, 30]
    assert variants[3].model.entries.per_year == 40
    assert variants[3].model.provision["in_house_foster"].recruitment_per_year == (
        loaded.model.provision["in_house_foster"].recruitment_per_year
    )


def test_net_saving_against_a_baseline_is_compares_paired_net_cost() -> None:
    """`--against` must give, run by run, exactly the net cost difference `compare` gives
    for the same files and seed: placements, payments after care and the option's own
    costs."""
    from sim.runs.compare import compare

    base = ROOT / "scenarios" / "darlington" / "baseline.toml"
    option = ROOT / "scenarios" / "darlington" / "foster-plus-10.toml"
    key = "changes[0].set"  # the option's dated recruitment rate ([[changes]])
    sw = run_sweep(
        load(option),
        [parse_vary(f"{key}=4.0,20.0")],
        years=2,
        reps=3,
        seed=11,
        workers=1,
        against=load(base),
        one_at_a_time=True,
    )
    assert sw.shared == (False,)  # the option's own lever: the baseline runs as written
    cmp = compare([base, option], years=2, reps=3, seed=11, workers=1, progress=False)
    paired = -cmp.diff("net_cost")[1, :, -1]  # baseline minus option, each run
    saving = [r.net_saving for r in sw.results]
    assert saving[0] is not None and saving[1] is not None and saving[2] is not None
    assert saving[0] == pytest.approx(paired, rel=1e-12)
    # fewer carers recruited than the option plans saves less than more carers, on average
    assert saving[1].mean() < saving[2].mean()


def test_sweep_against_writes_the_sensitivity_in_words_and_a_tornado(tmp_path: Path) -> None:
    out = tmp_path / "sens"
    proc = cli(
        "sweep",
        str(ROOT / "scenarios" / "darlington" / "solo-homes.toml"),
        "--against",
        str(ROOT / "scenarios" / "darlington" / "baseline.toml"),
        "--one-at-a-time",
        "--vary",
        "provision.solo_home.weekly_cost=8000,13000",
        *("--years", "2", "--reps", "2", "--workers", "1"),  # the homes open in year 2
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    md = (out / "sweep.md").read_text()
    assert "## Net saving against the baseline" in md
    assert "`provision.solo_home.weekly_cost`: " in md and " at `8000`" in md
    assert "--against" in md and "--one-at-a-time" in md
    with (out / "sweep.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 3 and "net_saving_gbp_median" in table[0]
    # a dearer solo home can only save less (same random numbers, price alone changed)
    assert float(table[2]["net_saving_gbp_median"]) < float(table[1]["net_saving_gbp_median"])
    assert (out / "sweep.png").stat().st_size > 0


def test_a_key_the_option_shares_with_the_baseline_is_varied_in_both() -> None:
    """The external very complex price is an assumption about the world: a dearer one must
    raise the saving of solo homes (which avoid it), so it is set in the baseline too."""
    base = load(ROOT / "scenarios" / "darlington" / "baseline.toml")
    option = load(ROOT / "scenarios" / "darlington" / "solo-homes.toml")
    world = "provision.external_home.weekly_cost.very_complex"
    lever = "provision.solo_home.weekly_cost"
    sw = run_sweep(
        option,
        [parse_vary(f"{world}=9000,20000"), parse_vary(f"{lever}=9000")],
        years=2,
        reps=4,
        seed=5,
        workers=1,
        against=base,
        one_at_a_time=True,
    )
    # both are as the baseline has them (the option does not reprice solo homes); the
    # baseline has no solo home, so setting their price there changes nothing
    assert sw.shared == (True, True)
    saving = {r.variant.number: r.net_saving.mean() for r in sw.results}  # type: ignore[union-attr]
    assert saving[3] > saving[2]  # dearer external placements: the solo homes save more
    # cheaper solo homes save more
    cheaper = sw.results[3].net_saving
    assert cheaper is not None and cheaper.mean() > saving[1]
