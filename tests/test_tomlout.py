"""Tests for `sim.scenario.write`: TOML with comments that always reads back to the same data."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.scenario.load import loads
from sim.scenario.write import dumps

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
