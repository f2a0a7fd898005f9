"""Load a scenario file: read TOML, resolve `extends`, validate, and explain mistakes.

A scenario may extend another (`extends = "baseline.toml"`) and change only what differs:
tables merge key by key, anything else (numbers, strings, lists) replaces the base value.
Every error names the file that set the offending key, the key path, the line where it
can be found, what is wrong and what was expected.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import ScenarioError
from .schema import Scenario, cross_reference_errors

_TAGS = {"foster", "home", "offer", "emergency", "fixed", "exponential", "lognormal", "uniform"}
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario, the merged raw data it came from, and where each key was set."""

    model: Scenario
    raw: dict[str, Any]
    path: Path
    sources: tuple[Path, ...]

    @property
    def name(self) -> str:
        return self.model.scenario.name


def load(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; raise ScenarioError for any user mistake."""
    path = Path(path)
    provenance: dict[Path_, Path] = {}
    raw, chain = _read_with_extends(path, provenance, ())
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, raw, provenance, path) from None
    _check_references(model, provenance, path)
    return LoadedScenario(model=model, raw=raw, path=path, sources=chain)


def loads(text: str, name: str = "<scenario>") -> Scenario:
    """Validate scenario TOML given as text (no `extends`); for tests and notebooks."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(name, f"is not valid TOML: {exc}", line=_toml_line(exc)) from None
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, raw, {}, Path(name)) from None
    _check_references(model, {}, Path(name))
    return model


def _check_references(model: Scenario, provenance: dict[Path_, Path], default: Path) -> None:
    problems = cross_reference_errors(model)
    if problems:
        loc, msg = problems[0]
        if len(problems) > 1:
            msg += f"; and {len(problems) - 1} more such problem(s)"
        file = _file_for(loc, provenance, default)
        raise ScenarioError(file, msg, key=_dotted(loc), line=_find_line(file, loc))


# --------------------------------------------------------------------------- reading


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(path, "file not found", expected="a path to a scenario .toml file")
    if path.is_dir():
        raise ScenarioError(path, "is a folder", expected="a scenario .toml file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, f"is not valid TOML: {exc}", line=_toml_line(exc)) from None
    except UnicodeDecodeError:
        raise ScenarioError(path, "is not a UTF-8 text file", expected="a TOML file") from None


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else None


def _read_with_extends(
    path: Path, provenance: dict[Path_, Path], seen: tuple[Path, ...]
) -> tuple[dict[str, Any], tuple[Path, ...]]:
    resolved = path.resolve()
    if resolved in seen:
        cycle = " -> ".join(p.name for p in (*seen, resolved))
        raise ScenarioError(seen[-1], f"'extends' makes a cycle: {cycle}", key="extends")
    data = _read_toml(path)
    base_name = data.pop("extends", None)
    own: dict[Path_, Path] = {}
    _record(data, (), path, own)
    if base_name is None:
        provenance.update(own)
        return data, (path,)
    if not isinstance(base_name, str):
        raise ScenarioError(
            path,
            "'extends' must be a file name",
            key="extends",
            expected='a string such as "baseline.toml"',
        )
    base_path = path.parent / base_name
    if not base_path.exists():
        raise ScenarioError(
            path,
            f"'extends' names {base_name!r}, which does not exist (looked for {base_path})",
            key="extends",
        )
    base, chain = _read_with_extends(base_path, provenance, (*seen, resolved))
    provenance.update(own)
    return _merge(base, data), (*chain, path)


def _record(node: Any, at: Path_, path: Path, out: dict[Path_, Path]) -> None:
    out[at] = path
    if isinstance(node, dict):
        for k, v in node.items():
            _record(v, (*at, k), path, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _record(v, (*at, i), path, out)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------- explaining


def _explain(
    exc: ValidationError, raw: dict[str, Any], provenance: dict[Path_, Path], default: Path
) -> ScenarioError:
    err = exc.errors()[0]
    loc = _user_loc(err["loc"], raw)
    key = _dotted(loc)
    file = _file_for(loc, provenance, default)
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    expected = None
    if kind == "extra_forbidden":
        valid = _valid_keys(loc[:-1], raw)
        msg = f"unknown key {loc[-1]!r}"
        expected = "one of: " + ", ".join(valid) if valid else None
    elif kind == "missing":
        msg = "this required key is missing"
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        ctx = err.get("ctx", {})
        msg = f"unknown or missing type tag {ctx.get('tag', '')!r}".replace(" ''", "")
        expected = f"one of {ctx.get('expected_tags', '')}"
    elif "input" in err and not isinstance(err["input"], (dict, list)):
        msg = f"{msg} (got {err['input']!r})"
    n_more = len(exc.errors()) - 1
    if n_more:
        msg += f"; and {n_more} more problem{'s' if n_more > 1 else ''} after this one is fixed"
    line = _find_line(file, loc)
    return ScenarioError(file, msg, key=key or None, line=line, expected=expected)


def _user_loc(loc: tuple[Any, ...], raw: dict[str, Any]) -> Path_:
    """Drop pydantic's union-tag steps so the path matches what the user wrote."""
    out: list[str | int] = []
    node: Any = raw
    for step in loc:
        if (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and step < len(node)
        ):
            node = node[step]
            out.append(step)
        elif (
            (isinstance(step, str) and step in _TAGS)
            or step == "function-after"
            or (isinstance(step, str) and step.startswith("function"))
        ):
            continue
        else:
            out.append(step)
            node = None
    return tuple(out)


def _dotted(loc: Path_) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _file_for(loc: Path_, provenance: dict[Path_, Path], default: Path) -> Path:
    for n in range(len(loc), -1, -1):
        if loc[:n] in provenance:
            return provenance[loc[:n]]
    return default


def _find_line(file: Path, loc: Path_) -> int | None:
    """Best-effort line of the key in its file: TOML parsers do not report key positions."""
    names = [s for s in loc if isinstance(s, str)]
    if not names or not file.exists():
        return None
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    header: list[str] = []
    best, best_len = None, 0
    for i, text in enumerate(lines, start=1):
        s = text.strip()
        m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", s)
        if m:
            header = [p.strip().strip('"') for p in m.group(1).split(".")]
            n = _common(header, names)
            if n == len(header) and n > best_len:
                best, best_len = i, n
            continue
        m = re.match(r'^"?([A-Za-z0-9_\-]+)"?\s*=', s)
        if m:
            path = [*header, m.group(1)]
            n = _common(path, names)
            if n == len(path) and n > best_len:
                best, best_len = i, n
    return best


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _valid_keys(loc: Path_, raw: dict[str, Any]) -> list[str]:
    """The keys allowed at a place in the file, found by walking the schema alongside it."""
    tp: Any = Scenario
    node: Any = raw
    for step in loc:
        tp = _unwrap(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _field(tp, step)
            if field is None:
                return []
            tp = field.annotation
        else:
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if origin is dict:
                tp = args[1]
            elif origin is list:
                tp = args[0]
            else:
                return []
        node = node[step] if isinstance(node, (dict, list)) and _has(node, step) else None  # type: ignore[index]
    tp = _unwrap(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(step, int) and step < len(node)


def _field(model: type[BaseModel], name: str | int) -> Any:
    for fname, f in model.model_fields.items():
        if name in (fname, f.alias):
            return f
    return None


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional and pick the member of a tagged union the data selects."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            chosen = members[0]
            for m in members:
                if isinstance(m, type) and issubclass(m, BaseModel) and isinstance(node, dict):
                    for tag in ("kind", "dist"):
                        f = m.model_fields.get(tag)
                        if f is not None and node.get(tag) in typing.get_args(f.annotation):
                            chosen = m
            tp = chosen
        else:
            return tp
