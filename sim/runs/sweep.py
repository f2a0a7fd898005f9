"""Sweep: run a grid of variants of one scenario and chart how the results respond.

A variant is the scenario with some keys set to other values. The grid is every
combination (cartesian product) of the values given for each key, the first key varying
slowest; variant 1 (every key at its first value) is the reference. Every variant runs
with the same master seed, so replication i of every variant shares its random numbers
(common random numbers) and the paired difference of replication i from replication i of
the reference measures the option, not the noise.

Keys are dotted paths into the scenario file, with list items as `[0]`:
`provision.in_house_foster.recruitment_per_year`, `provision.solo_home.homes[0].opens`,
`entries.age_mix."10-15"`. Values are given as

* a numeric range `start:stop:step`, stop included (`0:30:5` is 0, 5, ..., 30);
* a comma-separated list of TOML values (`2024-04-01,2025-04-01`, `0.1,0.2`, `true,false`;
  a bare word such as `in_area` is a string);
* a `|`-separated list of TOML values, for values that contain commas
  (`[]|[{name='Solo 1', beds=1, opens=2024-04-01}]`);
* or, in a grid file, a TOML list under `[vary]`.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import itertools
import re
import sys
import time
import tomllib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..common.errors import ScenarioError, UserError
from ..scenario.keys import Step, current_value, parse_key, set_path
from ..scenario.load import LoadedScenario, check_changes, explain_validation
from ..scenario.schema import Scenario, cross_reference_errors
from .compare import check_same_start, metric_values, option_cost_by_year

MAX_VARIANTS = 10_000


# =========================================================================== parsing


@dataclass(frozen=True)
class Axis:
    """One varied key: its text as written, its path, and the values it takes."""

    key: str
    path: tuple[Step, ...]
    values: tuple[Any, ...]


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*:\s*({_NUMBER})\s*:\s*({_NUMBER})\s*$")
_BARE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\- ]*$")


def parse_range(text: str, key: str = "") -> list[int | float] | None:
    """`start:stop:step` with the stop included, or None if `text` is not a range."""
    if ":" not in text or text.count(":") != 2:
        return None
    m = _RANGE.match(text)
    if not m:
        if re.match(r"^\s*\d{1,2}:\d{2}:\d{2}", text):  # a TOML time, not a range
            return None
        raise UserError(
            f"--vary {key}: cannot read the range {text!r}: expected start:stop:step "
            "with numbers, e.g. 0:30:5 (stop included)"
        )
    try:
        start, stop, step = (Decimal(g) for g in m.groups())
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        raise UserError(f"--vary {key}: cannot read the range {text!r}") from None
    if step == 0:
        raise UserError(f"--vary {key}: the step of the range {text!r} must not be 0")
    if (stop - start) * step < 0:
        raise UserError(
            f"--vary {key}: the range {text!r} is empty: with step {step} it never "
            f"goes from {start} to {stop}"
        )
    n = int((stop - start) / step) + 1
    if n > MAX_VARIANTS:
        raise UserError(f"--vary {key}: the range {text!r} has {n:,} values, too many")
    whole = all("." not in g and "e" not in g.lower() for g in m.groups())
    values = [start + i * step for i in range(n)]
    return [int(v) if whole else float(v) for v in values]


def parse_value(text: str, key: str = "") -> Any:
    """One TOML value (`2024-04-01`, `0.1`, `true`, `[1, 2]`, `"x"`); a bare word is a string."""
    item = text.strip()
    if not item:
        raise UserError(f"--vary {key}: an empty value in the list (two separators in a row?)")
    try:
        return tomllib.loads(f"v = {item}")["v"]
    except tomllib.TOMLDecodeError:
        if _BARE_WORD.match(item) and item not in ("true", "false"):
            return item
        raise UserError(
            f"--vary {key}: cannot read the value {item!r}: expected a number, a date "
            "(2024-04-01), true or false, a word, or a TOML value such as "
            "[{name='Solo 1', beds=1}]"
        ) from None


def parse_values(text: str, key: str = "") -> list[Any]:
    """The VALUES of KEY=VALUES: a range, a `|`-separated or a comma-separated list."""
    if not text.strip():
        raise UserError(f"--vary {key}: no values after '=' (e.g. {key}=0:30:5 or {key}=1,2)")
    rng = parse_range(text, key)
    if rng is not None:
        return rng
    sep = "|" if "|" in text else ","
    return [parse_value(item, key) for item in text.split(sep)]


def parse_vary(text: str) -> Axis:
    """`KEY=VALUES` as given to --vary."""
    if "=" not in text:
        raise UserError(
            f"--vary {text!r}: expected KEY=VALUES, e.g. "
            "provision.in_house_foster.recruitment_per_year=0:30:5 or entries.per_year=80,93"
        )
    key, values = text.split("=", 1)
    key = key.strip()
    path = parse_key(key)
    vals = parse_values(values, key)
    return Axis(key=key, path=path, values=tuple(vals))


def read_grid(path: Path) -> list[Axis]:
    """A grid file: a `[vary]` table of dotted keys, each a list of values (or a range)."""
    from ..scenario.load import read_toml_file

    data = read_toml_file(path)  # a regular .toml file of bounded size, like a scenario
    unknown = [k for k in data if k != "vary"]
    if unknown:
        raise UserError(
            f"{path}: unknown key {unknown[0]!r} in the grid file (expected only a [vary] "
            "table; a grid cannot extend a scenario: pass the scenario on the command line)"
        )
    vary = data.get("vary")
    if not isinstance(vary, dict) or not vary:
        raise UserError(
            f"{path}: expected a [vary] table of keys and lists of values, e.g.\n"
            '  [vary]\n  "provision.in_house_foster.recruitment_per_year" = [0, 10, 20]'
        )
    axes: list[Axis] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for k, v in node.items():
            name = f"{prefix}.{_key_part(k)}" if prefix else _key_part(k)
            if isinstance(v, dict):
                walk(v, name)
            elif isinstance(v, list):
                if not v:
                    raise UserError(f"{path}: [vary] {name} has an empty list of values")
                axes.append(Axis(key=name, path=parse_key(name), values=tuple(v)))
            elif isinstance(v, str) and (numbers := parse_range(v, name)) is not None:
                axes.append(Axis(key=name, path=parse_key(name), values=tuple(numbers)))
            else:
                raise UserError(
                    f"{path}: [vary] {name} must be a list of values (or a range such as "
                    f'"0:30:5"), got {v!r}'
                )

    walk(vary, "")
    return axes


def _key_part(k: str) -> str:
    """A grid-file key back into path text; keep `a.b[0]` written as one quoted key."""
    if re.fullmatch(r'[A-Za-z0-9_\-\.\[\]"]+', k):
        return k
    return f'"{k}"'


# =========================================================================== variants


@dataclass
class Variant:
    """One combination of the swept values, as a whole scenario (raw TOML and validated)."""

    number: int  # from 1
    values: tuple[Any, ...]  # one per axis
    raw: dict[str, Any]
    model: Scenario
    #: one at a time: the index of the one axis this variant changes (None: the scenario
    #: as written, or a grid variant)
    varies: int | None = None


def build_variants(
    loaded: LoadedScenario, axes: list[Axis], one_at_a_time: bool = False
) -> list[Variant]:
    """Every combination of values, each set into a copy of the scenario and validated.

    `one_at_a_time`: instead of the grid, variant 1 is the scenario as written and each
    further variant changes one key to one of its values, the others as written (a
    sensitivity analysis: how much each assumption alone moves the answer).
    """
    if not axes:
        raise UserError("nothing to sweep: give at least one --vary KEY=VALUES or --grid FILE")
    seen: set[tuple[Step, ...]] = set()
    for a in axes:
        if a.path in seen:
            raise UserError(f"the key {a.key} is varied twice; give all its values once")
        seen.add(a.path)
        if not a.values:
            raise UserError(f"--vary {a.key}: no values")
    n = (
        1 + sum(len(a.values) for a in axes)
        if one_at_a_time
        else int(np.prod([len(a.values) for a in axes]))
    )
    if n > MAX_VARIANTS:
        raise UserError(f"the grid has {n:,} variants, more than {MAX_VARIANTS:,}")
    # every path is checked with its first value before any variant is built
    for a in axes:
        set_path(copy.deepcopy(loaded.raw), a.path, a.values[0], a.key)
    out = []
    # (values of every axis, the axes set in the copy): the grid sets every axis; one at
    # a time sets only the one it varies, the others stay exactly as written
    every = frozenset(range(len(axes)))
    combos: Iterable[tuple[tuple[Any, ...], frozenset[int]]] = (
        (combo, every) for combo in itertools.product(*(a.values for a in axes))
    )
    if one_at_a_time:
        combos = _one_at_a_time(loaded.raw, axes)
    for number, (combo, which) in enumerate(combos, start=1):
        raw = copy.deepcopy(loaded.raw)
        for i in sorted(which):
            set_path(raw, axes[i].path, combo[i], axes[i].key)
        model = _validate(raw, loaded.path, number, axes, combo)
        alone = next(iter(which)) if one_at_a_time and len(which) == 1 else None
        out.append(Variant(number, combo, raw, model, alone))
    return out


def _one_at_a_time(
    raw: dict[str, Any], axes: list[Axis]
) -> list[tuple[tuple[Any, ...], frozenset[int]]]:
    """The scenario as written, then each key alone at each of its values."""
    written = tuple(current_value(raw, a.path) for a in axes)
    out: list[tuple[tuple[Any, ...], frozenset[int]]] = [(written, frozenset())]
    for i, a in enumerate(axes):
        for v in a.values:
            out.append(((*written[:i], v, *written[i + 1 :]), frozenset({i})))
    return out


def _validate(
    raw: dict[str, Any], path: Path, number: int, axes: list[Axis], combo: tuple[Any, ...]
) -> Scenario:
    which = f"sweep variant {number} ({describe(axes, combo)})"
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as exc:
        inner = explain_validation(exc, raw, {}, path)
        raise ScenarioError(
            path, f"{which}: {inner.problem}", key=inner.key, expected=inner.expected
        ) from None
    problems = cross_reference_errors(model)
    if problems:
        loc, msg = problems[0]
        key = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in loc).lstrip(".")
        raise ScenarioError(path, f"{which}: {msg}", key=key or None)
    try:
        check_changes(model, raw, {}, path)
    except ScenarioError as exc:
        raise ScenarioError(path, f"{which}: {exc.problem}", key=exc.key) from None
    return model


def describe(axes: list[Axis], combo: tuple[Any, ...]) -> str:
    """A variant in words: 'key = value, key = value', one pair per axis."""
    return ", ".join(f"{a.key} = {toml_text(v)}" for a, v in zip(axes, combo, strict=True))


def toml_text(v: Any) -> str:
    """A value as an analyst would type it (inline TOML)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    if isinstance(v, float):
        return f"{v:g}" if abs(v) < 1e15 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_text(x) for x in v) + "]"
    if isinstance(v, dict):
        parts = [
            f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', k) else toml_text(k)} = {toml_text(x)}"
            for k, x in v.items()
        ]
        return "{" + ", ".join(parts) + "}"
    return str(v)


def label_text(v: Any, width: int = 40) -> str:
    """A short label for charts and the terminal: strings without quotes, long text cut."""
    if isinstance(v, list) and v and all(isinstance(x, dict) and "name" in x for x in v):
        text = "[" + ", ".join(str(x["name"]) for x in v) + "]"  # a list of homes: names
    else:
        text = v if isinstance(v, str) else toml_text(v)
    return text if len(text) <= width else text[: width - 1] + "…"


# =========================================================================== running


@dataclass
class VariantResult:
    """What a sweep keeps of one variant's runs: its measures, one value per run."""

    variant: Variant
    cost: np.ndarray  # (reps,) total cost over the horizon, £
    unmet_days: np.ndarray  # (reps,) child-days not suitably placed over the horizon
    unmet_end: np.ndarray  # (reps,) children not suitably placed at the end
    in_care_end: np.ndarray  # (reps,)
    in_area_end: np.ndarray  # (reps,) % of children placed in area at the end
    seconds: float = 0.0
    n_events: int = 0
    #: (reps,) with `against`: the baseline's net cost minus this variant's (placements
    #: plus the option's own costs), run by run on the same random numbers; else None
    net_saving: np.ndarray | None = None


@dataclass
class Sweep:
    """A sweep done: the base scenario, the axes, each variant's result and how it was run."""

    loaded: LoadedScenario
    axes: list[Axis]
    results: list[VariantResult]
    years: float
    reps: int
    seed: int
    months: list[str]
    command: str
    wall_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    #: the baseline each variant's net saving is measured against (`--against`), if any
    against: LoadedScenario | None = None
    #: variant 1 is the scenario as written, each other changes one key (`--one-at-a-time`)
    one_at_a_time: bool = False
    #: with `against`, by axis: whether the key is one the scenario and the baseline share
    #: (the scenario does not change it: an assumption about the world, varied in both)
    shared: tuple[bool, ...] = ()


def run_kwargs(run_fn: Any, engine: str | None, scheduler: str | None) -> dict[str, Any]:
    """engine=/scheduler= for `montecarlo.run`, only if given and if it takes them."""
    params = inspect.signature(run_fn).parameters
    out: dict[str, Any] = {}
    for name, value in (("engine", engine), ("scheduler", scheduler)):
        if value is None:
            continue
        if name not in params:
            raise UserError(f"--{name} is not supported by this version of sufficiency")
        out[name] = value
    return out


def run_sweep(
    loaded: LoadedScenario,
    axes: list[Axis],
    years: float,
    reps: int,
    seed: int,
    workers: int | None = None,
    progress: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
    command: str = "",
    parameter_uncertainty: bool = True,
    against: LoadedScenario | None = None,
    one_at_a_time: bool = False,
) -> Sweep:
    """Build and check every variant, then run each with the same seed.

    `against`: a baseline, run with the same seed, so that each variant's net saving
    against it is paired run by run (common random numbers), as `compare` pairs them. A
    key the scenario and the baseline share (same value: the scenario does not change it)
    is an assumption about the world both live in, so a variant's value of it is set in
    the baseline too (which then runs again for that variant); a key the scenario changes
    is its own lever, varied in the scenario only.
    """
    from .montecarlo import run

    extra = run_kwargs(run, engine, scheduler)
    variants = build_variants(loaded, axes, one_at_a_time)
    shared: tuple[bool, ...] = ()
    if against is not None:
        check_same_start([against, loaded])
        shared = tuple(
            hashable_value(current_value(against.raw, a.path))
            == hashable_value(current_value(loaded.raw, a.path))
            for a in axes
        )
    baselines = {} if against is None else _baseline_variants(against, axes, shared, variants)
    bar = _bar(len(variants) + len(baselines), progress)
    started = time.perf_counter()
    out: list[VariantResult] = []
    months: list[str] = []
    base_net: dict[tuple[Any, ...], np.ndarray] = {}

    def run_one(model: Scenario) -> Any:
        return run(
            model,
            years=years,
            reps=reps,
            seed=seed,
            workers=workers,
            progress=False,
            parameter_uncertainty=parameter_uncertainty,
            **extra,
        )

    for key, model in baselines.items():
        base_net[key] = _net_cost(model, run_one(model))
        bar.update(1)
    for v in variants:
        t0 = time.perf_counter()
        res = run_one(v.model)
        months = res.months
        measured = _measures(v, res, time.perf_counter() - t0)
        if against is not None:
            key = _shared_key(v, shared)
            measured.net_saving = base_net[key] - _net_cost(v.model, res)
        out.append(measured)
        bar.update(1)
    bar.close()
    return Sweep(
        loaded=loaded,
        axes=axes,
        results=out,
        years=years,
        reps=reps,
        seed=seed,
        months=months,
        command=command,
        wall_seconds=time.perf_counter() - started,
        meta=extra,
        against=against,
        one_at_a_time=one_at_a_time,
        shared=shared,
    )


def hashable_value(v: Any) -> Any:
    """A value as a key (lists and tables as their TOML text)."""
    return toml_text(v) if isinstance(v, (list, dict)) else v


def _shared_key(v: Variant, shared: tuple[bool, ...]) -> tuple[Any, ...]:
    """The variant's values of the shared keys: variants equal on them share a baseline."""
    return tuple(
        hashable_value(x) for x, is_shared in zip(v.values, shared, strict=True) if is_shared
    )


def _baseline_variants(
    against: LoadedScenario,
    axes: list[Axis],
    shared: tuple[bool, ...],
    variants: list[Variant],
) -> dict[tuple[Any, ...], Scenario]:
    """The baseline once for each combination of shared values the variants take, with
    those values set in it (validated as a variant is)."""
    out: dict[tuple[Any, ...], Scenario] = {}
    for v in variants:
        key = _shared_key(v, shared)
        if key in out:
            continue
        raw = copy.deepcopy(against.raw)
        for a, x, is_shared in zip(axes, v.values, shared, strict=True):
            if is_shared and hashable_value(x) != hashable_value(
                current_value(against.raw, a.path)
            ):
                set_path(raw, a.path, x, a.key)
        out[key] = _validate(raw, against.path, v.number, axes, v.values)
    return out


def _net_cost(model: Scenario, res: Any) -> np.ndarray:
    """(reps,) net cost over the horizon as `compare` counts it: placements, payments after
    care and the option's own costs."""
    placements = metric_values(res, "placement_cost")[:, -1]
    after_care = metric_values(res, "after_care_cost")[:, -1]
    own = option_cost_by_year(model.option_costs, model.scenario.start_date, len(res.months))
    return placements + after_care + own[-1]


def _measures(v: Variant, res: Any, seconds: float) -> VariantResult:
    loc = {
        g: res.series("in_care_by_location", g)[:, -1]
        for g, _ in res.layout.columns("in_care_by_location")
    }
    placed = np.sum(list(loc.values()), axis=0)
    in_area = np.full(placed.shape, np.nan)
    np.divide(loc["in_area"] * 100.0, placed, out=in_area, where=placed > 0)
    return VariantResult(
        variant=v,
        cost=res.series("cost", "total").sum(axis=1),
        unmet_days=res.series("unmet_child_days", "total").sum(axis=1),
        unmet_end=res.series("unmet_children", "total")[:, -1],
        in_care_end=res.series("in_care", "total")[:, -1],
        in_area_end=in_area,
        seconds=seconds,
        n_events=int(res.n_events),
    )


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="variants", unit="variant", file=sys.stderr)


# =========================================================================== summary


def quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles of one measure over replications, ignoring NaN (a run with none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [float(v) for v in np.nanpercentile(x, qs)]


def rows(sw: Sweep) -> list[dict[str, Any]]:
    """One summary row per variant (numbers unrounded), the paired differences against 1."""
    ref = sw.results[0]
    out = []
    for r in sw.results:
        row: dict[str, Any] = {"variant": r.variant.number}
        for a, v in zip(sw.axes, r.variant.values, strict=True):
            row[a.key] = v
        c50, c10, c90 = quantiles(r.cost, (50, 10, 90))
        u50, u10, u90 = quantiles(r.unmet_days, (50, 10, 90))
        dc50, dc5, dc95 = quantiles(r.cost - ref.cost, (50, 5, 95))
        du50, du5, du95 = quantiles(r.unmet_days - ref.unmet_days, (50, 5, 95))
        row.update(
            {
                "total_cost_gbp_median": c50,
                "total_cost_gbp_p10": c10,
                "total_cost_gbp_p90": c90,
                "unmet_child_days_median": u50,
                "unmet_child_days_p10": u10,
                "unmet_child_days_p90": u90,
                "unmet_children_end_median": quantiles(r.unmet_end, (50,))[0],
                "in_care_end_median": quantiles(r.in_care_end, (50,))[0],
                "placed_in_area_pct_end_median": quantiles(r.in_area_end, (50,))[0],
                "cost_diff_gbp_median": dc50,
                "cost_diff_gbp_p5": dc5,
                "cost_diff_gbp_p95": dc95,
                "unmet_child_days_diff_median": du50,
                "unmet_child_days_diff_p5": du5,
                "unmet_child_days_diff_p95": du95,
            }
        )
        if r.net_saving is not None:
            s50, s5, s95 = quantiles(r.net_saving, (50, 5, 95))
            row.update(
                {
                    "net_saving_gbp_median": s50,
                    "net_saving_gbp_p5": s5,
                    "net_saving_gbp_p95": s95,
                    "net_saving_positive_share": float(np.mean(r.net_saving > 0)),
                }
            )
        out.append(row)
    return out
