"""Options made from the form: a baseline with the levers one column of the form changes.

The form shows the baseline's levers once and up to MAX_OPTIONS columns of values, one per
option; a column's fields are named `o<i>:<lever key>` (and `o<i>:name`). A column left at
the baseline's values is no option and is not run. Every option is validated as
`sufficiency validate` validates a file, and each mistake is keyed by the form field it
names, so the page can show it beside that control; a mistake no lever of the column
explains is keyed by the column (`o<i>:`).

An option is also a scenario file: the baseline's own text with only the changed lines
different (`ScenarioCopies`), so it can be reviewed as a diff and rerun from the command
line.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .. import __version__
from ..common.errors import ScenarioError
from ..scenario.keys import join, node_at, set_path
from ..scenario.load import LoadedScenario, check_changes, explain_validation
from ..scenario.schema import Scenario, cross_reference_errors
from ..scenario.write import ScenarioCopies
from .levers import (
    DEFAULT_RUNS,
    DEFAULT_YEARS,
    MAX_OPTIONS,
    RUNS,
    YEARS,
    Lever,
    dated_changes,
    levers,
)

#: What the app calls the homes and costs it adds, in the option's scenario file.
NEW_HOME_NAME = "New home {k} (added in the app)"
OPTION_COST_ITEM = "The option's own costs (entered in the app)"


def field_name(option: int, key: str) -> str:
    """The form field of lever `key` in option column `option` (1-based)."""
    return f"o{option}:{key}"


@dataclass
class Option:
    """One column of the form made into a scenario, or the mistakes that stop it."""

    number: int
    name: str = ""
    loaded: LoadedScenario | None = None
    text: str = ""
    #: (lever, new value) for each lever the column changes
    changed: list[tuple[Lever, Any]] = field(default_factory=list)


@dataclass
class Options:
    """The form's options, with the comparison's years and runs, or the mistakes (by form
    field: `o<i>:<key>`, `o<i>:` for a column, "years", "runs", or "" for the form)."""

    options: list[Option]
    errors: dict[str, str]
    years: int = DEFAULT_YEARS
    runs: int = DEFAULT_RUNS


def whole_number(text: str, low: int, high: int) -> int | str:
    """`text` as a whole number from `low` to `high`, or the message saying what is wrong."""
    try:
        value = int(text.strip())
    except ValueError:
        return f"must be a whole number from {low} to {high} (got {text.strip()!r})"
    if not low <= value <= high:
        return f"must be a whole number from {low} to {high} (got {value})"
    return value


def number(text: str) -> float | int | str:
    """A lever's text as a number (whole where it is whole), or the text itself, for the
    scenario's schema to say what is wrong with it."""
    try:
        value = float(text.strip())
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def date(text: str) -> dt.date | str | None:
    """A date field's text as a date (None when empty), or the message saying what is wrong."""
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return f"must be a date, e.g. 2025-03-31 for 31 March 2025 (got {text!r})"


def make_options(loaded: LoadedScenario, data: dict[str, str]) -> Options:
    """Every option the form's columns describe, validated; the columns left as the
    baseline are skipped, and at least one must change something."""
    errors: dict[str, str] = {}
    years = whole_number(data.get("years", str(DEFAULT_YEARS)), *YEARS)
    runs = whole_number(data.get("runs", str(DEFAULT_RUNS)), *RUNS)
    if isinstance(years, str):
        errors["years"] = years
    if isinstance(runs, str):
        errors["runs"] = runs
    all_levers = levers(loaded)
    options = []
    for i in range(1, MAX_OPTIONS + 1):
        option = make_option(loaded, data, i, errors, all_levers)
        if option is not None:
            options.append(option)
    if not options and not any(k.startswith("o") for k in errors):
        errors[""] = (
            "Change at least one lever in an option's column: an option left as the "
            "baseline is not run."
        )
    names = [o.name for o in options]
    for o in options:
        if names.count(o.name) > 1:
            errors[field_name(o.number, "name")] = (
                f"two options are called {o.name!r}: give each option its own name"
            )
    if errors:
        return Options([], errors)
    assert isinstance(years, int) and isinstance(runs, int)
    return Options(options, {}, years, runs)


def make_option(
    loaded: LoadedScenario,
    data: dict[str, str],
    i: int,
    errors: dict[str, str],
    all_levers: Sequence[Lever] | None = None,
) -> Option | None:
    """Option column `i`: None when it changes nothing (or has mistakes, added to
    `errors`), else the option with its scenario and file text."""
    all_levers = list(all_levers) if all_levers is not None else levers(loaded)
    raw = copy.deepcopy(loaded.raw)
    start = loaded.model.scenario.start_date
    option = Option(i)
    added: dict[str, dict[str, Any]] = {}
    costs: dict[str, float] = {}
    cost_levers: list[tuple[Lever, Any]] = []  # after the homes, in the form's order
    cost_starts: dt.date | None = None
    wrong = False
    for lever in all_levers:
        name = field_name(i, lever.key)
        text = data.get(name)
        if text is None or text.strip() == lever.shown():
            continue
        value: Any
        if lever.spec.type == "date":
            value = date(text)
            if isinstance(value, dt.date) and value <= start:
                value = (
                    f"must be after the scenario starts ({start.isoformat()}): a date on or "
                    "before it changes nothing the run can show"
                )
            if isinstance(value, str):
                errors[name], wrong = value, True
                continue
        else:
            value = number(text)
            if isinstance(value, (int, float)):
                if value == lever.value:
                    continue
                if lever.special and not lever.spec.low <= value <= lever.spec.high:
                    errors[name], wrong = out_of_range(lever, value), True
                    continue
            elif lever.special:
                errors[name] = f"must be a number from {lever.spec.low:g} to {lever.spec.high:g}"
                wrong = True
                continue
        if lever.special and lever.special[0] == "new_homes":
            added.setdefault(lever.special[1], {})[lever.special[2]] = value
            continue
        if lever.special == ("option_costs", "starts"):
            cost_starts = value  # a date for the costs, not a change by itself
            continue
        if lever.special and lever.special[0] == "option_costs":
            costs[lever.special[1]] = float(value)
            cost_levers.append((lever, value))
            continue
        if value is None:
            _drop(raw, lever.path)
        else:
            set_path(raw, lever.path, value, lever.key, "the lever")
        if lever.dated:
            _drop_dated(raw, lever.path)
        option.changed.append((lever, value))
    first_new, homes_wrong = _add_homes(raw, added, all_levers, i, errors, option.changed)
    wrong = wrong or homes_wrong
    option.changed += cost_levers
    if costs:
        raw.setdefault("option_costs", []).append(
            {
                "item": OPTION_COST_ITEM,
                **{part: costs[part] for part in ("one_off", "per_year") if costs.get(part)},
                **({"starts": cost_starts} if cost_starts else {}),
                "source": "entered in the sufficiency web app",
            }
        )
    if wrong or not option.changed:
        return None
    option.name = data.get(field_name(i, "name"), "").strip()[:120] or option_name(option.changed)
    raw.setdefault("scenario", {})["name"] = option.name
    raw["scenario"]["description"] = (
        f"{loaded.name} with changes made in the web app: "
        + "; ".join(_said(lever, value) for lever, value in option.changed)
    )[:2000]
    try:
        model = validated(loaded, raw)
    except ScenarioError as exc:
        errors[_field_of(exc.key or "", i, option.changed, first_new)] = message(exc)
        return None
    # the scenario's own rules first (validate's words), then the app's narrower ranges
    for lever, value in option.changed:
        in_range = not isinstance(value, (int, float)) or lever.spec.low <= value <= lever.spec.high
        if lever.path and not in_range:
            errors[field_name(i, lever.key)], wrong = out_of_range(lever, value), True
    if wrong:
        return None
    option.loaded = LoadedScenario(
        model=model,
        raw=raw,
        path=loaded.path.with_name(f"option-{i}.toml"),
        sources=loaded.sources,
    )
    option.text = scenario_text(loaded, raw, option, first_new)
    return option


def _add_homes(
    raw: dict[str, Any],
    added: dict[str, dict[str, Any]],
    all_levers: Sequence[Lever],
    i: int,
    errors: dict[str, str],
    changed: list[tuple[Lever, Any]],
) -> tuple[dict[str, int], bool]:
    """Add the homes column `i` asks for (`added`: provision -> the new-homes fields it
    changed: count, beds, opens; the others keep the form's defaults) to `raw`. Returns
    where each provision's new homes start in its list, and whether a mistake stopped it."""
    parts_of = {
        lever.special[1:]: lever for lever in all_levers if lever.special[:1] == ("new_homes",)
    }
    first_new: dict[str, int] = {}
    wrong = False
    for provision, parts in added.items():
        count_lever = parts_of[(provision, "count")]
        count = parts.get("count", 0)
        if not count:
            continue  # beds or a date without homes to add: nothing to add
        if not float(count).is_integer():
            errors[field_name(i, count_lever.key)] = "must be a whole number of homes"
            wrong = True
            continue
        beds = parts.get("beds", parts_of[(provision, "beds")].value)
        opens = parts.get("opens", parts_of[(provision, "opens")].value)
        if isinstance(opens, str):
            opens = dt.date.fromisoformat(opens)  # the form's default
        if opens is None:
            errors[field_name(i, parts_of[(provision, "opens")].key)] = (
                "give the date the new homes open"
            )
            wrong = True
            continue
        homes = raw["provision"][provision].setdefault("homes", [])
        first_new[provision] = len(homes)
        beds = int(beds) if float(beds).is_integer() else beds
        homes += [
            {"name": NEW_HOME_NAME.format(k=k + 1), "beds": beds, "opens": opens}
            for k in range(int(count))
        ]
        changed.append((count_lever, int(count)))
    return first_new, wrong


def out_of_range(lever: Lever, value: float) -> str:
    """The message for a value outside the app's range of a lever."""
    return (
        f"must be from {lever.spec.low:g} to {lever.spec.high:g} in the app (got {value:g}); "
        "edit the scenario file for a value outside that range"
    )


def validated(loaded: LoadedScenario, raw: dict[str, Any]) -> Scenario:
    """`raw` as a scenario, checked as `sufficiency validate` checks a file."""
    texts = dict(loaded.files)
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise explain_validation(exc, raw, {}, loaded.path, texts) from None
    problems = cross_reference_errors(model)
    if problems:
        key = ""
        for step in problems[0][0]:
            key = join(key, step)
        raise ScenarioError(loaded.path, problems[0][1], key=key)
    check_changes(model, raw, {}, loaded.path, texts)
    return model


def message(exc: ScenarioError) -> str:
    """A validation mistake in the words `validate` uses (without the file's name: the
    form shows the mistake beside its control)."""
    return exc.problem + (f" (expected {exc.expected})" if exc.expected else "")


def _field_of(
    key: str, i: int, changed: Sequence[tuple[Lever, Any]], first_new: dict[str, int]
) -> str:
    """The form field a mistake at scenario key `key` belongs to: the lever that set it,
    the new homes' count for a home the column added, else the column."""
    for lever, _ in changed:
        if lever.key and (key == lever.key or key.startswith(lever.key + ".")):
            return field_name(i, lever.key)
    for provision, first in first_new.items():
        if key == f"provision.{provision}":
            return field_name(i, f"new_homes.{provision}.count")
        stem = f"provision.{provision}.homes["
        if key.startswith(stem):
            index = int(key[len(stem) :].split("]", 1)[0])
            if index >= first:
                return field_name(i, f"new_homes.{provision}.count")
    if key.startswith("option_costs"):
        return field_name(i, "option_costs.one_off")
    # a mistake about a provision as a whole (e.g. its children at the start and the
    # places left open): the lever of the column that changed that provision
    for lever, _ in changed:
        if lever.path[:2] == tuple(key.split(".")[:2]) and key.startswith("provision."):
            return field_name(i, lever.key)
    return field_name(i, "")


def _drop_dated(raw: dict[str, Any], path: tuple[str | int, ...]) -> None:
    """Remove the scenario's dated changes to the value at `path`: the value the user gave
    holds for the whole run (the form says so beside the lever)."""
    drop = set(dated_changes(raw, path))
    if drop:
        raw["changes"] = [c for i, c in enumerate(raw["changes"]) if i not in drop]
    if path[-1] == "recruitment_per_year" and len(path) == 3:
        raw["provision"][path[1]].pop("recruitment_changes", None)


def _drop(raw: dict[str, Any], path: tuple[str | int, ...]) -> None:
    """Remove the value at `path` (a date emptied in the form: the home stays open)."""
    parent = node_at(raw, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def option_name(changed: Sequence[tuple[Lever, Any]]) -> str:
    """A short name for an option that says what it changes: its first change, and how
    many more, e.g. "Foster carers recruited a year (Darlington foster carers): 10
    (baseline 7.7)"."""
    if not changed:
        return "Option"
    more = len(changed) - 1
    first = _said(*changed[0])
    return first[:100] + (f" and {more} more change{'s' if more > 1 else ''}" if more else "")


def _said(lever: Lever, value: Any) -> str:
    """One change in words, as the form names it."""
    subject = f" ({lever.subject})" if lever.subject else ""
    if lever.special and lever.special[0] == "new_homes":
        return f"{value} new home{'s' if value != 1 else ''}{subject}"
    if lever.special:
        return f"{lever.spec.label} £{float(value):,.0f}"
    shown = value.isoformat() if isinstance(value, dt.date) else value
    was = lever.shown() or "none"
    return f"{lever.spec.label}{subject}: {'none' if value is None else shown} (baseline {was})"


def scenario_text(
    loaded: LoadedScenario, raw: dict[str, Any], option: Option, first_new: dict[str, int]
) -> str:
    """The option as a scenario file: the baseline's text, only the changed lines
    different, each with a note of the baseline's value."""
    notes: dict[tuple[str | int, ...], str] = {}
    said = []
    for lever, value in option.changed:
        shown = value.isoformat() if isinstance(value, dt.date) else value
        if lever.path:
            notes[lever.path] = f"changed in the app: was {lever.shown() or 'not set'}"
            said.append(f"{lever.key} = {shown}")
        elif lever.special[0] == "new_homes":
            said.append(f"{value} new home(s) in provision.{lever.special[1]}")
        else:
            said.append(f"{lever.spec.label.lower()} £{float(value):,.0f}")
    for provision, first in first_new.items():
        notes[("provision", provision, "homes", first)] = "added in the app"
    notes[("scenario", "name")] = "changed in the app"
    notes[("scenario", "description")] = "changed in the app"
    header = (
        f"An option made in the sufficiency web app ({__version__}) on "
        f"{dt.date.today().isoformat()}: the baseline {loaded.path.name} with "
        + "; ".join(said)
        + ".\nRerun it with: sufficiency compare BASELINE.toml option.toml"
    )
    return ScenarioCopies(loaded.raw, loaded.files).write(raw, header=header, notes=notes)
