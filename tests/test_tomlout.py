"""Tests for `sim.scenario.write`: TOML with comments that always reads back to the same data."""

from __future__ import annotations

import copy as copy_module
import datetime as dt
import functools
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario.load import load, loads
from sim.scenario.write import ScenarioCopies, dumps, scenario_copy, toml_ready

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "darlington" / "baseline.toml"


# ------------------------------------------------------------------ helpers


def strict(v: Any) -> Any:
    """`v` with every scalar tagged by its type, so 1 != 1.0 and True != 1 when compared."""
    if isinstance(v, dict):
        return {k: strict(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strict(x) for x in v]
    return (type(v).__name__, v)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def line_before(text: str, line: str) -> str:
    lines = lines_of(text)
    return lines[lines.index(line) - 1]


def paths(v: Any, at: tuple = ()) -> list[tuple]:
    """Every key path and list-element path inside `v`."""
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            out += [(*at, k), *paths(x, (*at, k))]
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += [(*at, i), *paths(x, (*at, i))]
    return out


# ------------------------------------------------------------------ round trip (property)

KEYS = st.sampled_from(
    ["a", "b", "under_1", "1-4", "16-17", "a b", "x.y", "1", "ifa", "A-b", 'q"t', "é", "_z"]
) | st.text(min_size=1, max_size=6)

SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
)


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    dicts = st.dictionaries(KEYS, children | st.none(), max_size=4)
    return st.one_of(
        st.lists(children, max_size=4),
        dicts,
        st.lists(dicts, min_size=1, max_size=3),  # arrays of tables
        st.lists(st.dictionaries(KEYS, SCALARS, max_size=3), min_size=1, max_size=3),
        st.dictionaries(KEYS, st.dictionaries(KEYS, SCALARS, max_size=3), max_size=3),
    )


VALUES = st.recursive(SCALARS, _extend, max_leaves=25)
DOCS = st.dictionaries(KEYS, VALUES | st.none(), max_size=6)


@given(DOCS)
def test_round_trip(data: dict[str, Any]) -> None:
    text = dumps(data)
    assert strict(tomllib.loads(text)) == strict(data)


@given(DOCS, st.sampled_from(["", " long" * 25, "\nsecond line", "\n\n  indented"]), st.data())
def test_round_trip_with_comments_everywhere(data: dict[str, Any], filler: str, draw) -> None:
    every = [p for p in paths(data) if _value_at(data, p) is not None]
    chosen = draw.draw(st.lists(st.sampled_from(every), unique=True) if every else st.just([]))
    comments = {p: f"c{i}{filler}" for i, p in enumerate(chosen)}
    text = dumps(data, comments, header="top\n\n" + "word " * 40)
    assert strict(tomllib.loads(text)) == strict(data)
    for i in range(len(chosen)):
        assert re.search(rf"#.*\bc{i}\b", text), f"comment c{i} missing:\n{text}"


def _value_at(data: Any, path: tuple) -> Any:
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


# ------------------------------------------------------------------ comments and header


def test_end_of_line_comment() -> None:
    text = dumps({"entries": {"per_year": 93}}, {("entries", "per_year"): "[DS] mean of 3 years"})
    assert re.search(r"^per_year = 93 +# \[DS\] mean of 3 years$", text, re.M)


def test_long_comment_goes_above_the_key() -> None:
    note = "assumption: " + "a fairly long explanation of where this came from " * 3
    text = dumps({"entries": {"per_year": 93}}, {("entries", "per_year"): note})
    lines = lines_of(text)
    assert lines[1].startswith("# assumption: ") and lines[2].startswith("# ")
    assert lines[3] == "per_year = 93"
    assert all(len(line) <= 95 for line in lines_of(text))


def test_multi_line_comment_goes_above_the_key() -> None:
    text = dumps({"t": {"x": 1}}, {("t", "x"): "first\nsecond"})
    assert lines_of(text)[-3:] == ["# first", "# second", "x = 1"]


def test_table_comment_goes_above_its_header() -> None:
    ifa = {"kind": "offer", "offer_probability": {"standard": 0.85}}
    data = {"provision": {"ifa": ifa, "kinship": {"kind": "offer"}}}
    text = dumps(data, {("provision", "ifa"): "Tyne Tees framework [DS]"})
    assert line_before(text, "[provision.ifa]") == "# Tyne Tees framework [DS]"


def test_array_of_tables_element_comment_goes_above_its_header() -> None:
    moves = [{"name": "a", "from": ["x"]}, {"name": "b", "from": ["y"]}]
    text = dumps({"moves": moves}, {("moves", 1): "reunification [DSA]", ("moves",): "planned"})
    headers = [i for i, line in enumerate(lines_of(text)) if line == "[[moves]]"]
    assert len(headers) == 2
    assert lines_of(text)[headers[0] - 1] == "# planned"
    assert lines_of(text)[headers[1] - 1] == "# reunification [DSA]"


def test_comment_inside_an_inline_table_joins_its_line() -> None:
    data = {"entries": {"age_mix": {"under_1": 0.16, "1-4": 0.84}}}
    text = dumps(data, {("entries", "age_mix", "under_1"): "14.1% of 149 [DS]"})
    assert re.search(r"^age_mix = \{.*\} +# under_1: 14.1% of 149 \[DS\]$", text, re.M)


def test_comment_on_inline_array_element_gets_its_own_line() -> None:
    homes = [{"name": "A", "beds": 3}, {"name": "B", "beds": 3}]
    text = dumps({"p": {"homes": homes}}, {("p", "homes", 1): "opened 2023"})
    assert re.search(r'^  \{ name = "B", beds = 3 \}, +# opened 2023$', text, re.M)
    assert tomllib.loads(text) == {"p": {"homes": homes}}


def test_header_lines() -> None:
    header = "Darlington baseline\n\n" + "word " * 40 + "\n  indented [DS]"
    text = dumps({"a": 1}, header=header)
    lines = lines_of(text)
    assert lines[:2] == ["# Darlington baseline", "#"]
    assert all(line.startswith("#") and len(line) <= 95 for line in lines[:-2])
    assert "#   indented [DS]" in lines
    assert lines[-2:] == ["", "a = 1"]


def test_comment_on_missing_path_is_an_error() -> None:
    with pytest.raises(ValueError, match="nope"):
        dumps({"a": {"b": 1}}, {("a", "nope"): "?"})


def test_none_is_skipped_with_its_comment() -> None:
    text = dumps({"a": {"b": 1, "c": None}, "d": None}, {("a", "c"): "unused"})
    assert tomllib.loads(text) == {"a": {"b": 1}}
    assert "unused" not in text


# ------------------------------------------------------------------ layout


def test_short_leaf_dict_is_inline() -> None:
    data = {"population": {"kinship": {"by_age": {"under_1": 2, "1-4": 8}}}}
    text = dumps(data)
    assert 'by_age = { under_1 = 2, "1-4" = 8 }' in lines_of(text)
    assert "[population.kinship]" in lines_of(text)


def test_long_leaf_dict_becomes_a_sub_table() -> None:
    data = {"t": {"d": {f"key_{i}": i * 1000.5 for i in range(12)}}}
    text = dumps(data)
    assert "[t.d]" in lines_of(text)
    assert tomllib.loads(text) == data


def test_siblings_are_all_tables_when_one_must_be() -> None:
    needs = {"standard": {"label": "Standard"}, "very": {"label": "x" * 120}}
    text = dumps({"needs": needs})
    assert "[needs.standard]" in lines_of(text) and "[needs.very]" in lines_of(text)


def test_top_level_dict_is_a_table_and_scalars_come_first() -> None:
    text = dumps({"scenario": {"name": "x"}, "version": 2})
    assert lines_of(text) == ["version = 2", "", "[scenario]", 'name = "x"']


def test_top_level_list_of_dicts_is_array_of_tables() -> None:
    moves = [{"name": "step down", "from": ["a", "b"], "rate_per_year": 0.25}, {"name": "x"}]
    text = dumps({"moves": moves})
    assert lines_of(text).count("[[moves]]") == 2
    assert tomllib.loads(text) == {"moves": moves}


def test_nested_list_of_small_flat_dicts_is_inline() -> None:
    data = {"p": {"households": [{"count": 14, "places": 1}, {"count": 28, "places": 2}]}}
    assert "households = [{ count = 14, places = 1 }, { count = 28, places = 2 }]" in dumps(data)


def test_long_inline_array_has_one_element_per_line() -> None:
    homes = [{"name": f"Children's home {c}", "beds": 3} for c in "ABC"]
    lines = lines_of(dumps({"p": {"homes": homes}}))
    assert lines[1:] == [
        "homes = [",
        '  { name = "Children\'s home A", beds = 3 },',
        '  { name = "Children\'s home B", beds = 3 },',
        '  { name = "Children\'s home C", beds = 3 },',
        "]",
    ]


def test_nested_list_of_non_flat_dicts_is_array_of_tables() -> None:
    prefs = [{"name": "a", "when": {"min_age": 16}, "order": ["x"]}]
    text = dumps({"matching": {"fallback": "emergency", "preferences": prefs}})
    assert "[[matching.preferences]]" in lines_of(text)
    assert "when = { min_age = 16 }" in lines_of(text)


def test_key_quoting() -> None:
    text = dumps({"t": {"under_1": 1, "1-4": 2, "16-17": 3, "a b": 4, "x.y": 5, "1": 6}})
    assert lines_of(text)[1:] == [
        "under_1 = 1",
        '"1-4" = 2',
        '"16-17" = 3',
        '"a b" = 4',
        '"x.y" = 5',
        '"1" = 6',
    ]
    assert '[t."a b"]' in dumps({"t": {"a b": {"c": {"d": 1}}}})


def test_values() -> None:
    data = {
        "f": 0.25,
        "g": 3.0,
        "h": 0.1 + 0.2,
        "i": 7,
        "b": True,
        "d": dt.date(2023, 4, 1),
        "t": dt.datetime(2023, 4, 1, 9, 30),
        "s": 'say "hi"',
        "l": [1, 2],
    }
    lines = lines_of(dumps(data))
    assert lines[:5] == ["f = 0.25", "g = 3.0", "h = 0.30000000000000004", "i = 7", "b = true"]
    assert "d = 2023-04-01" in lines
    assert strict(tomllib.loads(dumps(data))) == strict(data)


def test_empty() -> None:
    assert dumps({}) == ""
    assert tomllib.loads(dumps({"a": {}, "b": {"c": {}}, "l": []})) == {
        "a": {},
        "b": {"c": {}},
        "l": [],
    }


# ------------------------------------------------------------------ a real scenario


def test_darlington_baseline_round_trips_and_validates() -> None:
    with BASELINE.open("rb") as fh:
        data = tomllib.load(fh)
    data.pop("extends", None)
    text = dumps(data, {("entries", "per_year"): "[DS]"}, header="Darlington baseline")
    assert tomllib.loads(text) == data
    assert strict(tomllib.loads(text)) == strict(data)
    loads(text)  # the scenario schema accepts it


# ------------------------------------------------------------------ copies of scenario files
#
# A copy saved beside results (a run's scenario.toml, a sweep's variants) is the user's own
# text, comments and sources included: it must load on its own and give the same model.

DARLINGTON = BASELINE.parent
OPTIONS = ["solo-homes.toml", "edge-of-care.toml", "foster-plus-10.toml"]
COUNTY = BASELINE.parents[1] / "bench" / "county.toml"


def copy_of(path: Path, tmp_path: Path, header: str = "Scenario as run: test") -> tuple[str, Path]:
    """The copy of a scenario file written alone into a folder of its own (no base beside)."""
    loaded = load(path)
    text = scenario_copy(loaded.raw, loaded.files, header)
    folder = tmp_path / path.stem
    folder.mkdir()
    (folder / "scenario.toml").write_text(text, encoding="utf-8")
    return text, folder / "scenario.toml"


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """Lines removed from `old` and added in `new` (a line diff)."""
    import difflib

    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    gone = [d[1:] for d in diff if d.startswith("-") and not d.startswith("---")]
    added = [d[1:] for d in diff if d.startswith("+") and not d.startswith("+++")]
    return gone, added


@pytest.mark.parametrize("name", OPTIONS)
def test_an_option_copy_runs_alone_and_gives_the_same_model(name: str, tmp_path: Path) -> None:
    text, copy = copy_of(DARLINGTON / name, tmp_path)
    again = load(copy)
    assert again.model == load(DARLINGTON / name).model
    assert dict(again.raw) == dict(load(DARLINGTON / name).raw)
    assert "extends" not in tomllib.loads(text)
    assert "could not be kept" not in text


@pytest.mark.parametrize("name", OPTIONS)
def test_an_option_copy_diffs_against_its_baseline_in_the_options_own_lines(
    name: str, tmp_path: Path
) -> None:
    """Below the option's opening comment, the copy is baseline.toml with some lines
    replaced and some added, and every line replaced or added is a line of the option."""
    text, _ = copy_of(DARLINGTON / name, tmp_path)
    option = (DARLINGTON / name).read_text(encoding="utf-8").splitlines()
    head, body = text.split("# -------------------- baseline.toml\n")
    assert all(line.startswith("#") for line in head.splitlines())
    opening = option[: option.index('extends = "baseline.toml"')]
    assert "\n".join(opening).strip() in head  # the option's reasons, whole
    gone, added = changed_lines(BASELINE.read_text(encoding="utf-8"), body)
    assert added and all(line in option for line in added), [a for a in added if a not in option]
    # what goes is what the option replaced: the baseline's name, description and values
    assert 2 <= len(gone) <= 6 and all(" = " in line for line in gone), gone


def test_comments_of_both_files_survive_in_an_option_copy(tmp_path: Path) -> None:
    text, _ = copy_of(DARLINGTON / "solo-homes.toml", tmp_path)
    # the option's opening comment, its comment above a key, its comment beside a value
    assert "# Darlington option: open two solo children's homes." in text
    assert "# Cost per bed per week, paid whether the bed is filled or not" in text
    assert "# assumption: opening date, one year into the run" in text
    assert "# The option's own costs. Running costs are NOT here" in text
    # the baseline's sources and comments beside values it keeps
    assert "#   [DS]    Darlington Looked After Children and Care Leavers" in text
    assert "# [DS] in-house foster care, incl. fees and 30% on-costs" in text
    # a value the option replaced loses the baseline's comment about the old value
    assert "# none in the baseline; see solo-homes.toml" not in text
    # the option's reasons come first, then the baseline's
    assert text.index("# Darlington option: open two") < text.index("# Darlington: baseline")


def test_an_option_line_stands_where_the_baseline_set_it(tmp_path: Path) -> None:
    text, _ = copy_of(DARLINGTON / "edge-of-care.toml", tmp_path)
    lines = text.splitlines()
    at = lines.index(
        "per_year = 88.4   # baseline 93 - 4.6 entries averted a year (Coram FGC trial: 8.6 "
        "points x 54 more children referred [facts §11, DSA, derived]); UASC entries are "
        "unchanged"
    )
    assert lines[:at].count("[entries]") == 1 and "[entries.uasc]" not in lines[:at]
    assert lines[-1].startswith("source = ") and "[[option_costs]]" in lines[-6:]


@pytest.mark.parametrize("path", [BASELINE, COUNTY], ids=["baseline", "county"])
def test_a_file_without_extends_is_copied_byte_for_byte(path: Path, tmp_path: Path) -> None:
    text, copy = copy_of(path, tmp_path, header="line one\nline two")
    assert text == "# line one\n# line two\n\n" + path.read_text(encoding="utf-8")
    assert load(copy).model == load(path).model


DATED = "a = { x = 1, opens = 2024-04-01 }\nb = [{ y = 2024-01-01 }, { y = 2, z = 1979-05-27T07:32:00 }]\n"


def test_tomlkits_lost_space_before_a_closing_brace_is_put_back(tmp_path: Path) -> None:
    """tomlkit writes `{ opens = 2024-04-01}` for `{ opens = 2024-04-01 }`: not in a copy."""
    f = tmp_path / "s.toml"
    f.write_text(DATED, encoding="utf-8")
    raw = tomllib.loads(DATED)
    assert scenario_copy(raw, [(f, DATED)]) == DATED


def test_a_chain_of_three_files_and_pieces_of_tables(tmp_path: Path) -> None:
    """An option of an option; a table written in pieces; a new table; a whole table
    ([table] form) replacing an inline one; dotted keys; every comment where it was."""
    base = BASELINE.read_text(encoding="utf-8")
    (tmp_path / "baseline.toml").write_text(base, encoding="utf-8")
    (tmp_path / "middle.toml").write_text(
        """# Middle: more foster carers.
extends = "baseline.toml"

[provision.in_house_foster]
recruitment_per_year = 12   # middle's recruitment

# a new kind of placement, added by middle
[provision.lodgings]
kind = "offer"
label = "Supported lodgings"
needs = ["standard"]
location = "in_area"
weekly_cost = 500   # middle's lodgings cost
offer_probability = 0.5

[population.kinship]
disability_share = 0.04   # middle's kinship disability share
""",
        encoding="utf-8",
    )
    (tmp_path / "top.toml").write_text(
        """# Top: fewer entries, and a fixed Staying Put.
extends = "middle.toml"

[scenario]
name = "Top"

[entries]
per_year = 80   # top's entries
needs_mix."10-15" = { standard = 0.6, complex = 0.4 }   # top's needs of 10-15s

# top's Staying Put, written as a table: it replaces the baseline's whole
[leaving_care.staying_put_years]
dist = "fixed"
value = 1.5
""",
        encoding="utf-8",
    )
    loaded = load(tmp_path / "top.toml")
    text = scenario_copy(loaded.raw, loaded.files, "hdr")
    assert "could not be kept" not in text
    out = tmp_path / "out"
    out.mkdir()
    (out / "scenario.toml").write_text(text, encoding="utf-8")
    assert load(out / "scenario.toml").model == loaded.model
    for comment in (
        "# Top: fewer entries, and a fixed Staying Put.",
        "# Middle: more foster carers.",
        "recruitment_per_year = 12   # middle's recruitment",
        "# a new kind of placement, added by middle",
        "weekly_cost = 500   # middle's lodgings cost",
        "disability_share = 0.04   # middle's kinship disability share",
        "per_year = 80   # top's entries",
        "# top's Staying Put, written as a table: it replaces the baseline's whole",
        "# Darlington: baseline",
    ):
        assert comment in text, comment
    assert text.index("# Top: fewer") < text.index("# Middle: more") < text.index("# Darlington")
    # lodgings is the last provision, as `extends` adds it
    assert list(loaded.model.provision)[-1] == "lodgings"
    assert list(load(out / "scenario.toml").model.provision) == list(loaded.model.provision)


def test_a_layout_tomlkit_cannot_edit_is_written_plainly_and_says_so(tmp_path: Path) -> None:
    """The copy must read back as the data whatever happens; here the 'file' does not hold
    the data at all, so its comments cannot be kept."""
    raw = tomllib.loads(BASELINE.read_text(encoding="utf-8"))
    text = scenario_copy(raw, [(tmp_path / "x.toml", "not = [valid")], "hdr")
    assert text.startswith("# hdr\n#\n# The comments of x.toml could not be kept")
    assert strict(tomllib.loads(text)) == strict(raw)
    assert scenario_copy({"a": 1}) == "a = 1\n"  # no files: plainly, as before


@pytest.mark.parametrize(
    "hostile",
    [
        "x\n[scenario]\nname = 'hacked'",
        "x\r[scenario]",
        "x\x00y\x1b[31m\x7f",
        "x\u2028[scenario]\x85z",
    ],
)
def test_header_and_notes_text_stays_inside_comments(hostile: str, tmp_path: Path) -> None:
    loaded = load(DARLINGTON / "solo-homes.toml")
    copies = ScenarioCopies(loaded.raw, loaded.files)
    variant = tomllib.loads(copies.write(loaded.raw))
    variant["entries"]["per_year"] = 70
    text = copies.write(variant, f"Sweep of {hostile}", {("entries", "per_year"): hostile})
    assert strict(tomllib.loads(text)) == strict(variant)  # nothing added, nothing changed
    assert "could not be kept" not in text
    head = text.split("[scenario]")[0]
    assert all(line.startswith("#") or not line.strip() for line in head.splitlines())
    assert re.search(r"^per_year = 70   # x", text, re.M)


def test_a_variant_changes_only_its_lines_and_marks_them() -> None:
    loaded = load(DARLINGTON / "solo-homes.toml")
    copies = ScenarioCopies(loaded.raw, loaded.files)
    plain = copies.write(loaded.raw, "hdr")
    assert plain == scenario_copy(loaded.raw, loaded.files, "hdr")
    variant = copy_module.deepcopy(dict(loaded.raw))
    variant["provision"]["in_house_foster"]["recruitment_per_year"] = 20
    variant["provision"]["solo_home"]["homes"][1]["opens"] = dt.date(2025, 4, 1)
    variant["entries"]["age_mix"]["under_1"] = 0.2
    variant["entries"]["age_mix"]["1-4"] = 0.14
    variant["option_costs"][0]["one_off"] = 1000
    notes = {
        ("provision", "in_house_foster", "recruitment_per_year"): "varied: was 7.7",
        ("provision", "solo_home", "homes", 1, "opens"): "varied: was 2024-10-01",
        ("entries", "age_mix"): "varied mix",
    }
    text = copies.write(variant, "hdr", notes)
    assert strict(tomllib.loads(text)) == strict(toml_ready(variant))
    gone, added = changed_lines(plain, text)
    assert sorted(added) == sorted(
        [
            "recruitment_per_year = 20   # varied: was 7.7",
            '  { name = "Solo home 2", beds = 1, opens = 2025-04-01, first_child_after_days = '
            '{ dist = "uniform", low = 14, high = 56 } },   # assumption: six months later '
            "(Durham phased its small homes [Durham])",
            "]   # varied: was 2024-10-01",
            'age_mix = { under_1 = 0.2, "1-4" = 0.14, "5-9" = 0.20, "10-15" = 0.30, "16-17" = 0.16 }'
            "   # varied mix",
            "one_off = 1000",  # no note: the old comment was about the old value
        ]
    )
    assert len(gone) == len(added)
    # the next copy starts from the scenario again: no edit of this one is left behind
    assert copies.write(loaded.raw, "hdr") == plain


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_any_edit_of_the_scenario_reads_back_exactly(draw) -> None:
    """Set any value of the merged Darlington option to any TOML value: the copy reads
    back as exactly that data (with the scenario's comments, or plainly if it cannot)."""
    loaded = _solo_homes()
    copies = _solo_homes_copies()
    variant = copy_module.deepcopy(dict(loaded.raw))
    every = [p for p in paths(variant) if p]
    for path in draw.draw(st.lists(st.sampled_from(every), min_size=1, max_size=3)):
        node = variant
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = draw.draw(VALUES.filter(lambda v: v is not None and v != {}))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced what this path ran through
    text = copies.write(toml_ready(variant), "hdr", {path: "edited" for path in every[:3]})
    assert strict(tomllib.loads(text)) == strict(toml_ready(variant))
    # and the next copy is the scenario again
    assert copies.write(loaded.raw) == _solo_homes_copy()


@functools.cache
def _solo_homes() -> Any:
    return load(DARLINGTON / "solo-homes.toml")


@functools.cache
def _solo_homes_copies() -> ScenarioCopies:
    return ScenarioCopies(_solo_homes().raw, _solo_homes().files)


@functools.cache
def _solo_homes_copy() -> str:
    return scenario_copy(_solo_homes().raw, _solo_homes().files)
