"""Load a scenario file: read TOML, resolve `extends`, validate, and explain mistakes.

A scenario may extend another (`extends = "baseline.toml"`) and change only what differs:
tables merge key by key, except tables that describe one whole (shares that add up to 1,
a delay distribution: marked `WHOLE` in the schema), which replace the base's table whole;
anything else (numbers, strings, lists) replaces the base value.
Every error names the file that set the offending key, the key path, the line where it
can be found, what is wrong and what was expected.

Only regular `.toml` files of at most 1 MB are read, so `extends` cannot be pointed at a
system file, a device (`/dev/zero`) or a named pipe; with `root`, every file must also lie
inside that folder (for a web app that reads scenarios its users uploaded). Nothing read
from a file that is refused is ever shown in a message.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import os
import re
import stat
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..common import inputs
from ..common.errors import ScenarioError, UserError
from . import changes as dated
from .keys import current_value, node_at, parse_key, set_path
from .schema import Scenario, WholeTable, advisories, cross_reference_errors
from .uncertain import dotted, is_interval, parse

_TAGS = {"foster", "home", "offer", "emergency", "fixed", "exponential", "lognormal", "uniform"}
Path_ = tuple[str | int, ...]

#: Largest scenario file read. The Darlington baseline is about 30 kB; a bound stops
#: `extends` from reading a huge file (or one that never ends) into memory.
MAX_BYTES = 1_000_000
#: Deepest nesting of tables and lists accepted. A scenario's deepest key is 7 levels down
#: (provision.<id>.homes[i].resize[j].date); deeper data is a mistake or an attack on the
#: recursive code that walks it.
MAX_DEPTH = 32
#: Longest piece of a file's content quoted back in a message.
MAX_ECHO = 60
#: Pseudo-file systems never read, even through a symlink named *.toml: their files look
#: regular (size 0) but hold the process's environment and the like. Devices are refused
#: as not regular wherever they are.
_SYSTEM = (Path("/proc"), Path("/sys"))


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario, the merged raw data it came from, and where each key was set."""

    model: Scenario
    raw: dict[str, Any]
    path: Path
    sources: tuple[Path, ...]
    #: Things that validate but are probably not meant ("file:line: [key] text" each), for
    #: `sufficiency validate` to print: a provision no rule uses, beds that cannot be filled.
    warnings: tuple[str, ...] = ()
    #: The files read, base first (the file, then what it extends), with their text as
    #: read. A copy of the scenario written later (a run's `scenario.toml`, a sweep's
    #: variants) is made from these texts, so it keeps the user's comments and sources
    #: (`sim.scenario.write.scenario_copy`) without reading the files again (they may
    #: have changed since the run).
    files: tuple[tuple[Path, str], ...] = ()

    @property
    def name(self) -> str:
        """The scenario's name, as reports and comparisons show it."""
        return self.model.scenario.name


def load(path: str | Path, root: str | Path | None = None) -> LoadedScenario:
    """Read and validate a scenario file; raise ScenarioError for any user mistake.

    `root`: when given, the file and every file it `extends` must lie inside this folder
    (after symlinks are resolved), so a scenario cannot read files it was not meant to.
    """
    path = Path(path)
    inside = _root(root)
    provenance: dict[Path_, Path] = {}
    texts: dict[Path, str] = {}
    raw, chain = _read_with_extends(path, provenance, (), texts, inside)
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise explain_validation(exc, raw, provenance, path, texts) from None
    _check_references(model, provenance, path, texts)
    check_changes(model, raw, provenance, path, texts)
    warnings = tuple(
        _where(_file_for(loc, provenance, path), loc, texts) + " " + msg
        for loc, msg in advisories(model)
    )
    files = tuple((p, texts[p]) for p in chain)
    return LoadedScenario(
        model=model, raw=raw, path=path, sources=chain, warnings=warnings, files=files
    )


def read_raw(
    path: str | Path, root: str | Path | None = None
) -> tuple[dict[str, Any], tuple[Path, ...], dict[Path_, Path], dict[Path, str]]:
    """Read a TOML file and what it `extends`, merged, unvalidated: (data, the files read
    base first, the file that set each key, the texts as read). For other file kinds that
    follow the scenario's rules (a region file)."""
    path = Path(path)
    provenance: dict[Path_, Path] = {}
    texts: dict[Path, str] = {}
    raw, chain = _read_with_extends(path, provenance, (), texts, _root(root))
    return raw, chain, provenance, texts


def find_line(file: Path, loc: Path_, texts: dict[Path, str] | None = None) -> int | None:
    """Best-effort line of a key in its file (see `_find_line`)."""
    return _find_line(file, loc, texts)


def loads(text: str, name: str = "<scenario>") -> Scenario:
    """Validate scenario TOML given as text (no `extends`); for tests and notebooks."""
    if len(text) > MAX_BYTES:
        raise ScenarioError(name, "is larger than 1 MB", expected="a scenario of at most 1 MB")
    raw = _parse(text, Path(name))
    texts = {Path(name): text}
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise explain_validation(exc, raw, {}, Path(name), texts) from None
    _check_references(model, {}, Path(name), texts)
    check_changes(model, raw, {}, Path(name), texts)
    return model


def _check_references(
    model: Scenario,
    provenance: dict[Path_, Path],
    default: Path,
    texts: dict[Path, str] | None = None,
) -> None:
    problems = cross_reference_errors(model)
    if problems:
        loc, msg = problems[0]
        if len(problems) > 1:
            msg += f"; and {len(problems) - 1} more such problem(s)"
        file = _file_for(loc, provenance, default)
        raise ScenarioError(file, msg, key=_dotted(loc), line=_find_line(file, loc, texts))


def check_changes(
    model: Scenario,
    raw: dict[str, Any],
    provenance: dict[Path_, Path],
    default: Path,
    texts: dict[Path, str] | None = None,
) -> None:
    """Each dated change names a key that may change during a run, after the start, and
    leaves a valid scenario: applied in date order to a copy of the file's data, each
    on top of the ones before, the whole scenario validated after each."""
    if not model.changes:
        return
    file = _file_for(("changes",), provenance, default)
    start = model.scenario.start_date
    work = copy.deepcopy(raw)
    supported = ", ".join(dated.SUPPORTED)
    for i in dated.in_order(model.changes):
        c = model.changes[i]
        fail = functools.partial(_ChangeError, file, i, c, texts)
        if c.date <= start:
            raise fail(
                f"the date is not after the scenario starts ({start}); give the value at the "
                "start in the scenario itself, and date a change after it",
                "date",
                f"a date after {start}",
            )
        try:
            path = parse_key(c.key, "[[changes]]")
        except UserError as exc:
            raise fail(str(exc)) from None
        here = current_value(work, path)
        if not dated.changeable(path):
            if here is None:  # an unknown key: say what the table has
                try:
                    set_path(copy.deepcopy(work), path, 0, c.key, "[[changes]]")
                except UserError as exc:
                    raise fail(str(exc).removeprefix(f"[[changes]] {c.key}: ")) from None
                parent = current_value(work, path[:-1])
                have = ", ".join(map(str, parent)) if isinstance(parent, dict) else ""
                raise fail(
                    f"the scenario has no key {_show(path[-1])} there"
                    + (f" (it has: {have})" if have else "")
                )
            homes = "homes" in path
            raise fail(
                "this key cannot change during a run yet"
                + (
                    " (a home's beds and dates change with its own opens, closes and resize dates)"
                    if homes
                    else ""
                ),
                expected=f"one of {supported} (* any name, [] any item)",
            )
        if path[0] == "provision" and path[-1] == "recruitment_per_year":
            spec = model.provision.get(str(path[1]))
            if spec is not None and getattr(spec, "recruitment_changes", None):
                raise fail(
                    f"provision {_show(path[1])} also has recruitment_changes; give its "
                    "recruitment changes in one place ([[changes]], which supersedes them)"
                )
        if c.multiply is not None:
            if here is None:
                raise fail("multiply needs a value in force, and the scenario sets none here")
            node = node_at(work, path)
            new = dated.multiplied(node, c.multiply)
            if new is None:
                raise fail(
                    f"multiply needs a number or a table of numbers, and the value in force "
                    f"is {_show(here)}",
                    "multiply",
                )
            _put(work, path, new)
        else:
            try:
                set_path(work, path, c.set_, c.key, "[[changes]]")
            except UserError as exc:
                raise fail(str(exc).removeprefix(f"[[changes]] {c.key}: ")) from None
        try:
            version = Scenario.model_validate(work)
        except ValidationError as exc:
            inner = explain_validation(exc, work, {}, file)
            raise fail(
                f"from this date the scenario would be invalid: [{inner.key}] {inner.problem}",
                "multiply" if c.multiply is not None else "set",
                inner.expected,
            ) from None
        problems = cross_reference_errors(version)
        if problems:
            loc, msg = problems[0]
            raise fail(
                f"from this date the scenario would be invalid: [{_dotted(loc)}] {msg}",
                "multiply" if c.multiply is not None else "set",
            )


class _ChangeError(ScenarioError):
    """A mistake in the i-th dated change, named by its date and key, with its line."""

    def __init__(
        self,
        file: Path,
        i: int,
        change: Any,
        texts: dict[Path, str] | None,
        problem: str,
        field: str = "key",
        expected: str | None = None,
    ) -> None:
        super().__init__(
            file,
            f"change of {_show(change.key)} on {change.date}: {problem}",
            key=f"changes[{i}].{field}",
            line=_change_line(file, i, field, texts),
            expected=expected,
        )


def _put(raw: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    """Set the raw value at `path`, which exists (an interval table replaced whole)."""
    node: Any = raw
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def _change_line(file: Path, i: int, field: str, texts: dict[Path, str] | None) -> int | None:
    """The line of `field` in the i-th `[[changes]]` table of `file` (or of the table)."""
    text = texts.get(file) if texts is not None else None
    if text is None:
        return _find_line(file, ("changes", i, field), texts)
    seen = -1
    table: int | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if re.match(r"^\[\[\s*changes\s*\]\]", s):
            seen += 1
            if seen == i:
                table = n
            elif seen > i:
                break
            continue
        if seen == i and re.match(r"^\[", s):
            break  # another table: the change's keys are above
        if seen == i and re.match(rf"^{re.escape(field)}\s*=", s):
            return n
    return table if table is not None else _find_line(file, ("changes", i, field), texts)


def _where(file: Path, loc: Path_, texts: dict[Path, str]) -> str:
    """`file:line: [key]`, as an error message starts."""
    line = _find_line(file, loc, texts)
    text = f"{file}:{line}:" if line is not None else f"{file}:"
    return f"{text} [{_dotted(loc)}]" if loc else text


# --------------------------------------------------------------------------- reading


class _Refused(Exception):
    """A file that may not be read: `what` completes "<file> ...", `expected` says why."""

    def __init__(self, what: str, expected: str, missing: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.expected = expected
        self.missing = missing


def _root(root: str | Path | None) -> Path | None:
    if root is None:
        return None
    resolved = Path(root).resolve()
    if not resolved.is_dir():
        raise ScenarioError(root, "the folder scenarios must stay within does not exist")
    return resolved


def _read_text(path: Path, root: Path | None) -> str:
    """The text of a scenario file, read only if it is a regular .toml file of at most
    1 MB (inside `root`, when given). Checked before it is opened, so a named pipe never
    blocks and a device is never read; raises _Refused."""
    toml = "a scenario file whose name ends in .toml"
    regular = "a regular .toml file"
    if "\x00" in str(path):
        raise _Refused("is not a file name (it holds a NUL character)", toml)
    if path.suffix.lower() != ".toml":
        if root is None and path.is_dir():
            raise _Refused("is a folder", toml)
        raise _Refused("is not a .toml file", toml)
    # inside the root before anything else is asked about it (not even whether it exists)
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a loop of symbolic links
        raise _Refused("cannot be read (its symbolic links go round in a loop)", toml) from None
    if root is not None and not real.is_relative_to(root):
        raise _Refused(
            f"is outside the folder scenarios are read from ({root})",
            "a file inside that folder",
        )
    inputs.note(real)  # whatever happens next, no output of this command may replace it
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise _Refused("does not exist", "a path to a scenario .toml file", missing=True) from None
    except PermissionError:
        raise _Refused("cannot be read (permission denied)", "a file you may read") from None
    except OSError as exc:
        raise _Refused(f"cannot be read ({exc.strerror})", toml) from None
    if stat.S_ISDIR(info.st_mode):
        raise _Refused("is a folder", toml)
    if not stat.S_ISREG(info.st_mode) or any(real.is_relative_to(s) for s in _SYSTEM):
        raise _Refused("is not a regular file (it is a device, pipe or system file)", regular)
    if info.st_size > MAX_BYTES:
        raise _Refused("is larger than 1 MB", "a scenario file of at most 1 MB")
    # `real` has no symbolic links left: O_NOFOLLOW refuses one put in since, and
    # O_NONBLOCK keeps a pipe put in since from blocking (fstat below then refuses it)
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_CLOEXEC", "O_NOFOLLOW"):
        flags |= getattr(os, name, 0)
    try:
        fd = os.open(real, flags)
    except PermissionError:
        raise _Refused("cannot be read (permission denied)", "a file you may read") from None
    except OSError as exc:
        raise _Refused(f"cannot be read ({exc.strerror})", toml) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since it was checked
            raise _Refused("is not a regular file (it is a device, pipe or system file)", regular)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise _Refused("is larger than 1 MB", "a scenario file of at most 1 MB")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("is not a UTF-8 text file", "a TOML file") from None


def read_toml_file(path: str | Path, root: str | Path | None = None) -> dict[str, Any]:
    """Any TOML file the tool takes (a sweep's grid file, say), read with the same care as
    a scenario: a regular .toml file of at most 1 MB, not too deeply nested; a user's
    mistake is a ScenarioError naming the file."""
    path = Path(path)
    try:
        text = _read_text(path, _root(root))
    except _Refused as why:
        problem = "file not found" if why.missing else why.what
        raise ScenarioError(path, problem, expected=why.expected.replace("scenario ", "")) from None
    return _parse(text, path)


def _parse(text: str, path: Path) -> dict[str, Any]:
    """TOML text to data, with a line number and advice for the usual slips."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_line(exc)
        key, hint = _toml_hint(text, line)
        problem = f"is not valid TOML: {exc}"
        if hint:
            problem += f"; {hint}"
        raise ScenarioError(path, problem, key=key and _clip(key), line=line) from None
    except RecursionError:
        data = None
    if data is None or _too_deep(data):
        raise ScenarioError(
            path,
            f"is nested too deeply (more than {MAX_DEPTH} levels of tables and lists)",
            expected="a scenario file, whose deepest keys are about 7 levels down",
        )
    found = _control_character(data)
    if found is not None:
        at, char = found
        raise ScenarioError(
            path,
            f"holds the invisible control character U+{ord(char):04X}"
            + (" (NUL)" if char == "\x00" else "")
            + "; remove it",
            key=_clip(_dotted(at)),
            expected="names and text of letters, digits, punctuation, tabs and new lines",
        )
    return data


def _too_deep(data: Any) -> bool:
    """Is any table or list more than MAX_DEPTH levels down? (no recursion: the data may
    be deeper than Python's recursion limit)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


#: Characters no name or text in a scenario may hold: C0 controls but tab and newline,
#: and DEL. They are invisible in an editor, and a workbook cannot store them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _control_character(data: Any) -> tuple[Path_, str] | None:
    """The first key or text value holding a control character, and that character."""
    stack: list[tuple[Any, Path_]] = [(data, ())]
    while stack:
        node, at = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            for text in (k, v):
                if isinstance(text, str) and (m := _CONTROL.search(text)):
                    return (*at, k), m.group()
            if isinstance(v, (dict, list)):
                stack.append((v, (*at, k)))
    return None


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else None


_DMY = re.compile(r"(?<![\d-])(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?!\d)")


def _toml_hint(text: str, line: int | None) -> tuple[str | None, str | None]:
    """The key on the line a TOML error points at, and advice when the value there is a
    date or an amount of money written the way people write them (01/04/2023, £850)."""
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return None, None
    here = lines[line - 1]
    _, sep, value = here.partition("=")
    if not sep:
        return None, None
    return _key_at(lines, line), _value_hint(value.split("#")[0].strip(), in_toml=True)


def _key_at(lines: list[str], line: int) -> str | None:
    """The dotted key set on a line: its table heading plus the key before `=`."""
    m = re.match(r'^\s*"?([A-Za-z0-9_\-.]+)"?\s*=', lines[line - 1])
    if not m:
        return None
    for text in reversed(lines[: line - 1]):
        h = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", text)
        if h:
            return f"{h.group(1).replace(chr(34), '')}.{m.group(1)}"
    return m.group(1)


def _value_hint(value: str, in_toml: bool = False) -> str | None:
    """Advice for a value written as people write dates, money and thousands."""
    if "£" in value:
        amount = re.sub(r"[£,\s\"']", "", value)
        if re.fullmatch(r"\d+(\.\d+)?", amount):
            return f"write {amount} (pounds, without the £ sign)"
        return "write amounts as plain numbers of pounds, without the £ sign"
    m = _DMY.search(value)
    if m:
        day, month, year = (int(g) for g in m.groups())
        try:
            iso = dt.date(year, month, day).isoformat()
        except ValueError:
            iso = "2023-04-01"
        return f"write dates as {iso} (year-month-day, without quotes)"
    m = re.fullmatch(r"\"?(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?)\"?", value.strip())
    if m:
        plain = m.group(1).replace(",", "")
        extra = (
            f"; TOML also allows {plain[:-3]}_{plain[-3:]}" if in_toml and "." not in plain else ""
        )
        return f"write {plain} (without commas{extra})"
    return None


def _read_with_extends(
    path: Path,
    provenance: dict[Path_, Path],
    seen: tuple[Path, ...],
    texts: dict[Path, str],
    root: Path | None = None,
) -> tuple[dict[str, Any], tuple[Path, ...]]:
    if not seen:  # the file the user named: its own problems are reported against it
        try:
            text = _read_text(path, root)
        except _Refused as why:
            problem = "file not found" if why.missing else why.what
            raise ScenarioError(path, problem, expected=why.expected) from None
        texts[path] = text
    else:
        text = texts[path]
    resolved = path.resolve()
    data = _parse(text, path)
    base_name = data.pop("extends", None)
    own: dict[Path_, Path] = {}
    _record(data, (), path, own)
    if base_name is None:
        provenance.update(own)
        return data, (path,)
    line = _find_line(path, ("extends",), texts)
    if not isinstance(base_name, str):
        raise ScenarioError(
            path,
            "'extends' must be a file name",
            key="extends",
            line=line,
            expected='a string such as "baseline.toml"',
        )
    base_path = path.parent / base_name
    try:
        texts[base_path] = _read_text(base_path, root)
    except _Refused as why:
        where = f" (looked for {_clip(str(base_path))})" if why.missing else ""
        raise ScenarioError(
            path,
            f"'extends' names {_show(base_name)}, which {why.what}{where}",
            key="extends",
            line=line,
            expected=why.expected,
        ) from None
    if base_path.resolve() in (*seen, resolved):
        cycle = " -> ".join(p.name for p in (*seen, resolved, base_path.resolve()))
        raise ScenarioError(path, f"'extends' makes a cycle: {cycle}", key="extends", line=line)
    base, chain = _read_with_extends(base_path, provenance, (*seen, resolved), texts, root)
    merged = _merge(base, data)
    # a base key under a list or whole table this file replaced is gone: an error there
    # must not name the base file
    for at in [at for at in provenance if not _exists(merged, at)]:
        del provenance[at]
    provenance.update(own)
    return merged, (*chain, path)


def _exists(data: Any, at: Path_) -> bool:
    node = data
    for step in at:
        if not (isinstance(node, (dict, list)) and _has(node, step)):
            return False
        node = node[step]  # type: ignore[index]
    return True


def _record(node: Any, at: Path_, path: Path, out: dict[Path_, Path]) -> None:
    out[at] = path
    if isinstance(node, dict):
        for k, v in node.items():
            _record(v, (*at, k), path, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _record(v, (*at, i), path, out)


def _merge(base: dict[str, Any], override: dict[str, Any], at: Path_ = ()) -> dict[str, Any]:
    """The base with the override's values: tables merge key by key, except whole tables
    (shares, distributions), which are replaced like any other value."""
    out = dict(base)
    for k, v in override.items():
        here = (*at, k)
        if is_interval(out.get(k)) and _plain_number(v):
            # an option's new value for a number known only within an interval keeps the
            # interval's width around it, so the option and its base draw alike (common
            # random numbers) and the option is not falsely certain
            key = dotted(here)
            try:
                out[k] = parse(out[k], key).recentred(float(v)).as_table()
            except ValueError:
                out[k] = v  # a malformed base interval: the base's own check names it
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and not _is_whole(here):
            out[k] = _merge(out[k], v, here)
        else:
            out[k] = v
    return out


def _plain_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_whole(at: Path_) -> bool:
    return any(
        len(p) == len(at) and all(a == "*" or a == b for a, b in zip(p, at, strict=True))
        for p in _whole_tables()
    )


@functools.cache
def _whole_tables() -> frozenset[tuple[str, ...]]:
    """Key paths (`*` for any name) of the tables marked WHOLE in the schema."""
    out: set[tuple[str, ...]] = set()

    def walk(tp: Any, at: tuple[str, ...], meta: list[Any], depth: int) -> None:
        if depth > MAX_DEPTH or any(isinstance(m, WholeTable) for m in meta):
            if depth <= MAX_DEPTH:
                out.add(at)
            return
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            walk(args[0], at, [*meta, *args[1:]], depth)
        elif origin in (typing.Union, types.UnionType):
            for a in args:
                walk(a, at, meta, depth)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            for name, f in tp.model_fields.items():
                walk(f.annotation, (*at, f.alias or name), list(f.metadata), depth + 1)
        elif origin is dict:
            walk(args[1], (*at, "*"), [], depth + 1)
        # lists are replaced whole already

    walk(Scenario, (), [], 0)
    return frozenset(out)


# --------------------------------------------------------------------------- explaining

#: Union branches pydantic names in error locations ("constrained-float", "dict[str,...]"):
#: not keys the user wrote.
#: Plain type names ("float", "date") are left out: a field may be called that (`date`).
_BRANCH = re.compile(r"^(constrained-\w+|[a-z-]+\[.*\]|function-\w+.*)$")
#: "The value is of the wrong type" errors: from the branch of a union that the value was
#: never meant for, they are noise beside the other branch's error.
_TYPE_MISMATCH = {
    "float_type",
    "float_parsing",
    "int_type",
    "int_parsing",
    "dict_type",
    "list_type",
    "string_type",
    "bool_type",
    "model_type",
    "model_attributes_type",
}
_NUMBER_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
    "multiple_of",
}


def explain_validation(
    exc: ValidationError,
    raw: dict[str, Any],
    provenance: dict[Path_, Path],
    default: Path,
    texts: dict[Path, str] | None = None,
) -> ScenarioError:
    """The first problem pydantic found, in the user's words: key path, file, line."""
    errors = _relevant(exc.errors())
    err = errors[0]
    loc = _user_loc(err["loc"], raw)
    key = _dotted(loc)
    file = _file_for(loc, provenance, default)
    msg, expected = _plain(err, loc, raw)
    n_more = len(errors) - 1
    if n_more:
        msg += f"; and {n_more} more problem{'s' if n_more > 1 else ''} after this one is fixed"
    line = _find_line(file, loc, texts)
    return ScenarioError(file, msg, key=key or None, line=line, expected=expected)


def _branch_at(loc: tuple[Any, ...]) -> int | None:
    for i, step in enumerate(loc):
        if isinstance(step, str) and _BRANCH.match(step):
            return i
    return None


def _relevant(errors: list[Any]) -> list[Any]:
    """Drop "wrong type" errors from union branches the value was not meant for: for
    `offer_probability = { standard = 1.5 }` the problem is 1.5, not that a table is not a
    number."""
    keep = []
    for e in errors:
        i = _branch_at(e["loc"])
        if i is not None and e["type"] in _TYPE_MISMATCH:
            rivals = [
                f
                for f in errors
                if f is not e
                and _branch_at(f["loc"]) == i
                and f["loc"][:i] == e["loc"][:i]
                and f["loc"][i] != e["loc"][i]
            ]
            if rivals and (
                not all(f["type"] in _TYPE_MISMATCH for f in rivals)
                or any(errors.index(f) < errors.index(e) for f in rivals)
            ):
                continue  # another branch says more, or already said it
        keep.append(e)
    return keep or errors


def _plain(err: Any, loc: Path_, raw: dict[str, Any]) -> tuple[str, str | None]:
    """What is wrong and what was expected, without pydantic's internal names."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    scalar = "input" in err and not isinstance(value, (dict, list))
    if kind == "extra_forbidden":
        valid = _valid_keys(loc[:-1], raw)
        return (
            f"unknown key {_show(loc[-1])}",
            "one of: " + ", ".join(valid) if valid else None,
        )
    if kind == "missing":
        return "this required key is missing", None
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("tag", "")
        msg = f"unknown or missing type tag {_show(tag)}" if tag else "missing type tag"
        return msg, f"one of {ctx.get('expected_tags', '')}"
    if kind == "value_error":  # our own validators: the message already holds the value
        return err["msg"].removeprefix("Value error, "), None
    hint = _value_hint(value) if scalar and isinstance(value, str) else None
    if kind.startswith(("float_", "int_")) or kind in _NUMBER_ERRORS:
        msg = f"must be {_describe_number(*_schema_at(loc, raw))}"
    elif kind.startswith(("date_", "datetime_")):
        if isinstance(value, dt.datetime):
            msg = "must be a date without a time of day, written like 2023-04-01"
        elif hint:
            msg = "must be a date"
        else:
            msg = "must be a date, written like 2023-04-01 (year-month-day, without quotes)"
    elif kind.startswith("bool_"):
        msg = "must be true or false"
    elif kind.startswith("string_"):
        msg = 'must be text in double quotes, e.g. "Darlington"'
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        msg = "must be a table of keys, e.g. { key = 1 }"
    elif kind == "list_type":
        msg = 'must be a list in square brackets, e.g. ["a", "b"]'
    elif kind == "literal_error":
        msg = f"must be one of {ctx.get('expected', '')}"
    elif kind == "too_short":
        n = ctx.get("min_length", 1)
        msg = "must not be empty" if n == 1 else f"must have at least {n} items"
    elif kind == "too_long":
        msg = f"must have at most {ctx.get('max_length')} items"
    else:
        msg = err["msg"]
    if scalar or ("input" in err and kind in _TYPE_MISMATCH):
        msg += f" (got {_show(value)})"
    if hint:
        msg += f"; {hint}"
    return msg, None


def _describe_number(tp: Any, meta: list[Any]) -> str:
    """ "a number from 0 to 1", "a whole number greater than or equal to 1", ..."""
    noun = "a whole number" if tp is int else "a number"
    b: dict[str, str] = {}
    for m in meta:
        for part in m.metadata if isinstance(m, FieldInfo) else [m]:
            for name in ("ge", "gt", "le", "lt"):
                if isinstance(part, getattr(annotated_types, name.capitalize())):
                    b[name] = _show(getattr(part, name))
    low = f"at least {b['ge']}" if "ge" in b else f"above {b['gt']}" if "gt" in b else None
    high = f"at most {b['le']}" if "le" in b else f"below {b['lt']}" if "lt" in b else None
    if "ge" in b and "le" in b:
        return f"{noun} from {b['ge']} to {b['le']}"
    if low and high:
        return f"{noun} {low} and {high}"
    if "ge" in b:
        return f"{noun} greater than or equal to {b['ge']}"
    if "gt" in b:
        return f"{noun} greater than {b['gt']}"
    if "le" in b:
        return f"{noun} less than or equal to {b['le']}"
    if "lt" in b:
        return f"{noun} less than {b['lt']}"
    return noun


def _show(value: Any) -> str:
    """A value from a file, quoted back short: dates as 2023-04-15, long text clipped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}" if float(value).is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(_clip(str(value)))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 3] + "..."


def _user_loc(loc: tuple[Any, ...], raw: dict[str, Any]) -> Path_:
    """Drop pydantic's union-tag and union-branch steps so the path matches what the
    user wrote."""
    out: list[str | int] = []
    node: Any = raw
    for step in loc:
        if (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        ):
            node = node[step]
            out.append(step)
        elif isinstance(step, str) and (step in _TAGS or _BRANCH.match(step)):
            continue
        else:
            out.append(step)
            node = None
    return tuple(out)


def _dotted(loc: Path_) -> str:
    text = ""
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            name = _clip(str(step))
            text += f".{name}" if text else name
    return text


def _file_for(loc: Path_, provenance: dict[Path_, Path], default: Path) -> Path:
    for n in range(len(loc), -1, -1):
        if loc[:n] in provenance:
            return provenance[loc[:n]]
    return default


def _find_line(file: Path, loc: Path_, texts: dict[Path, str] | None = None) -> int | None:
    """Best-effort line of the key in its file: TOML parsers do not report key positions.

    `texts`: the files as they were read (a file is never read twice, so a file swapped
    since cannot be slipped in); without it the file is read again, as carefully."""
    names = [s for s in loc if isinstance(s, str)]
    if not names:
        return None
    if texts is not None and file in texts:
        text = texts[file]
    else:
        try:
            text = _read_text(file, None)
        except _Refused:
            return None
    lines = text.splitlines()
    header: list[str] = []
    best, best_len = None, 0
    for i, text in enumerate(lines, start=1):
        s = text.strip()
        m = re.match(r"^\[\[?\s*(" + _DOTTED_KEY + r")\s*\]\]?", s)
        if m:
            header = _key_parts(m.group(1))
            n = _common(header, names)
            if n == len(header) and n > best_len:
                best, best_len = i, n
            continue
        m = re.match(r"^(" + _DOTTED_KEY + r")\s*=", s)
        if m:
            path = [*header, *_key_parts(m.group(1))]
            n = _common(path, names)
            if n == len(path) and n > best_len:
                best, best_len = i, n
    return best


#: One TOML key part (bare, "quoted" or 'literal'), and a dotted key made of them.
_KEY_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)"""
_DOTTED_KEY = _KEY_PART + r"(?:\s*\.\s*" + _KEY_PART + r")*"


def _key_parts(key: str) -> list[str]:
    """`a."b.c".d` as ['a', 'b.c', 'd']: quoted parts may hold dots."""
    return [p.strip("\"'") for p in re.findall(_KEY_PART, key)]


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _schema_at(loc: Path_, raw: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The type the schema expects at a place in the file, and the constraints on it
    (pydantic's `ge`, `le`, ...), found by walking the schema alongside the data."""
    tp: Any = Scenario
    node: Any = raw
    meta: list[Any] = []
    for step in loc:
        tp, _ = _unwrap_meta(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _field(tp, step)
            if field is None:
                return None, []
            tp, meta = field.annotation, list(field.metadata)
        else:
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if origin is dict:
                tp = args[1]
            elif origin is list:
                tp = args[0]
            else:
                return None, []
            meta = []
        node = node[step] if isinstance(node, (dict, list)) and _has(node, step) else None  # type: ignore[index]
    tp, more = _unwrap_meta(tp, node)
    return tp, [*meta, *more]


def _valid_keys(loc: Path_, raw: dict[str, Any]) -> list[str]:
    """The keys allowed at a place in the file."""
    tp, _ = _schema_at(loc, raw)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(step, int) and 0 <= step < len(node)


def _field(model: type[BaseModel], name: str | int) -> Any:
    for fname, f in model.model_fields.items():
        if name in (fname, f.alias):
            return f
    return None


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional and pick the member of a union the data selects."""
    return _unwrap_meta(tp, node)[0]


def _unwrap_meta(tp: Any, node: Any) -> tuple[Any, list[Any]]:
    """`_unwrap`, keeping the Annotated metadata (constraints) stripped on the way."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            args = typing.get_args(tp)
            tp = args[0]
            meta.extend(args[1:])
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = _choose(members, node)
        else:
            return tp, meta


def _choose(members: list[Any], node: Any) -> Any:
    """The member of a union that fits the data: the tagged model a table names, a table
    type for a table, a plain type for a plain value."""
    for m in members:
        if isinstance(m, type) and issubclass(m, BaseModel) and isinstance(node, dict):
            for tag in ("kind", "dist"):
                f = m.model_fields.get(tag)
                if f is not None and node.get(tag) in typing.get_args(f.annotation):
                    return m
    for m in members:
        base = _unwrap(m, None) if typing.get_origin(m) is typing.Annotated else m
        table = typing.get_origin(base) is dict or (
            isinstance(base, type) and issubclass(base, BaseModel)
        )
        listy = typing.get_origin(base) is list
        if isinstance(node, dict) and table:
            return m
        if isinstance(node, list) and listy:
            return m
        if node is not None and not isinstance(node, (dict, list)) and not (table or listy):
            return m
    return members[0]
