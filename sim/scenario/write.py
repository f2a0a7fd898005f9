"""Write TOML with comments, for scenario files that people read and edit.

`tomli_w` cannot write comments, so this module does the layout itself and uses `tomli_w`
only to format single values (strings, numbers, dates). Layout rules:

* top-level plain values first, then tables in insertion order; inside every table, plain
  values come before its sub-tables (TOML requires it);
* a top-level dict is always a `[table]`, a top-level list of dicts always `[[tables]]`;
* below the top level, a *leaf* dict (no dicts inside) whose `key = { ... }` line fits in
  INLINE_MAX characters is an inline table; otherwise it is a `[a.b]` sub-table. If all the
  values of a table are dicts and any of them must be a sub-table, they all are, so that
  siblings (e.g. `[needs.standard]`, `[needs.complex]`) look alike;
* below the top level, a list of flat dicts (scalar values only, each short) is an inline
  array of inline tables, one element per line when it does not fit on one line; other
  lists of dicts are `[[a.b]]` arrays of tables. Long lists of scalars also get one
  element per line;
* anything else (mixed lists, lists of lists of dicts, ...) is written inline, which TOML
  always allows, so `tomllib.loads(dumps(d)) == d` with None-valued keys dropped.

Comments are keyed by path, e.g. `("entries", "per_year")`, `("provision", "ifa")` or
`("moves", 0)`. A comment on a path written inside an inline value (e.g. one key of an
inline table) is added to the comment of that value's line as `key: comment`.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import tomli_w

KeyPath = tuple[str | int, ...]

INLINE_MAX = 100  # longest `key = {...}` / `key = [...]` line written on one line
LINE_MAX = 110  # longest line with an end-of-line comment; longer comments go above
WRAP = 95  # comment lines above a key or table (and the header) wrap at this width
ALIGN = 36  # end-of-line comments start at this column when the code is shorter

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # "1-4" is a legal bare key, but quoted reads better
_CTRL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # characters TOML forbids in comments
_MISSING = object()


def dumps(
    data: dict[str, Any],
    comments: dict[KeyPath, str] | None = None,
    header: str = "",
) -> str:
    """Format `data` as TOML with `header` on top and `comments` beside or above keys.

    Keys whose value is None are left out (with any comment on them). A comment whose path
    is not in `data` raises ValueError.
    """
    notes = {tuple(p): _clean(text) for p, text in (comments or {}).items() if text}
    writer = _Writer(notes)
    if header:
        writer.out += [*_comment_lines(_clean(header), ""), ""]
    writer.table(_prune(data), (), "root")
    for path in notes.keys() - writer.used:
        if _lookup(data, path) is not None:
            raise ValueError(f"comment path {path!r} is not a key or element in the data")
    text = "\n".join(writer.out).strip("\n")
    return f"{text}\n" if text else ""


class _Writer:
    """Accumulates output lines and records which comments have been placed."""

    def __init__(self, comments: dict[KeyPath, str]) -> None:
        self.comments = comments
        self.used: set[KeyPath] = set()
        self.out: list[str] = []

    def table(self, d: dict[str, Any], path: KeyPath, kind: str, note: str = "") -> None:
        """Write table `d`: its header (kind "table" or "aot"), plain values, sub-tables."""
        layout = _layout(d, path)
        plain = [k for k in d if layout[k] == "inline"]
        if kind != "root":
            note = "; ".join(t for t in (note, self.take(path)) if t)
        if kind == "aot" or (kind == "table" and (plain or not d or note)):
            name = ".".join(_key(k) for k in path if isinstance(k, str))
            if self.out and self.out[-1] != "":
                self.out.append("")
            self.out += _comment_lines(note, "")
            self.out.append(f"[[{name}]]" if kind == "aot" else f"[{name}]")
        for k in plain:
            self.value(k, d[k], (*path, k))
        for k, v in d.items():
            if layout[k] == "table":
                self.table(v, (*path, k), "table")
            elif layout[k] == "aot":
                first = self.take((*path, k))
                for i, element in enumerate(v):
                    self.table(element, (*path, k, i), "aot", first if i == 0 else "")

    def value(self, k: str, v: Any, path: KeyPath) -> None:
        """Write `key = value`, splitting a long or element-commented list over lines."""
        one_line = f"{_key(k)} = {_inline(v)}"
        deeper = any(len(p) > len(path) and p[: len(path)] == path for p in self.comments)
        if not isinstance(v, list) or not v or (len(one_line) <= INLINE_MAX and not deeper):
            self.line(one_line, self.take(path, fold=True), "")
            return
        self.line(f"{_key(k)} = [", self.take(path), "")
        for i, x in enumerate(v):
            self.line(f"  {_inline(x)},", self.take((*path, i), fold=True), "  ")
        self.out.append("]")

    def line(self, code: str, note: str, indent: str) -> None:
        """Write one line of code with `note` at its end, or above it if too long."""
        if note and "\n" not in note:
            for pad in (max(3, ALIGN - len(code)), 3):
                if len(text := f"{code}{' ' * pad}# {note}") <= LINE_MAX:
                    self.out.append(text)
                    return
        self.out += _comment_lines(note, indent)
        self.out.append(code)

    def take(self, path: KeyPath, fold: bool = False) -> str:
        """The comment for `path` (plus, if `fold`, those below it), marked as placed."""
        texts = []
        if path in self.comments:
            self.used.add(path)
            texts.append(self.comments[path])
        for p, text in self.comments.items() if fold else ():
            if len(p) > len(path) and p[: len(path)] == path:
                self.used.add(p)
                where = ".".join(_key(k) if isinstance(k, str) else str(k) for k in p[len(path) :])
                texts.append(f"{where}: {text}")
        return _clean("; ".join(texts))


def _layout(d: dict[str, Any], path: KeyPath) -> dict[str, str]:
    """How each value of table `d` is written: "inline", "table" or "aot"."""
    top = not path
    kinds = {}
    for k, v in d.items():
        if isinstance(v, dict):
            short = len(f"{_key(k)} = {_inline(v)}") <= INLINE_MAX
            kinds[k] = "inline" if not top and short and _leaf(v) else "table"
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            flat = all(_flat(x) and len(_inline(x)) <= INLINE_MAX for x in v)
            kinds[k] = "inline" if not top and flat else "aot"
        else:
            kinds[k] = "inline"
    if all(isinstance(v, dict) for v in d.values()) and "table" in kinds.values():
        kinds = dict.fromkeys(d, "table")
    return kinds


def _leaf(d: dict[str, Any]) -> bool:
    """No dicts anywhere inside (lists of scalars are fine)."""
    return not any(_has_dict(v) for v in d.values())


def _has_dict(v: Any) -> bool:
    return isinstance(v, dict) or (isinstance(v, list) and any(_has_dict(x) for x in v))


def _flat(d: dict[str, Any]) -> bool:
    """Only scalar values."""
    return not any(isinstance(v, (dict, list)) for v in d.values())


def _inline(v: Any) -> str:
    """`v` as a one-line TOML value."""
    if isinstance(v, dict):
        items = ", ".join(f"{_key(k)} = {_inline(x)}" for k, x in v.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    if v is None:
        raise TypeError("None inside a list cannot be written as TOML")
    return tomli_w.dumps({"x": v})[len("x = ") :].rstrip("\n")


def _key(k: str) -> str:
    """A bare key if it starts with a letter or _ and is otherwise bare-safe, else quoted."""
    return k if _BARE.fullmatch(k) else _inline(k)


def _prune(v: Any) -> Any:
    """Drop None-valued dict keys, at any depth."""
    if isinstance(v, dict):
        return {k: _prune(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [_prune(x) for x in v]
    return v


def _lookup(data: Any, path: KeyPath) -> Any:
    """The value at `path`; None if the path runs into a None; a marker if it is absent."""
    for step in path:
        if data is None:
            return None
        in_dict = isinstance(data, dict) and isinstance(step, str) and step in data
        in_list = (
            isinstance(data, list) and isinstance(step, int) and -len(data) <= step < len(data)
        )
        if not (in_dict or in_list):
            return _MISSING
        data = data[step]
    return data if path else _MISSING


def _clean(text: str) -> str:
    """Normalise line breaks and blank out control characters TOML forbids in comments."""
    return "\n".join(_CTRL.sub(" ", line) for line in text.splitlines())


def _comment_lines(text: str, indent: str) -> list[str]:
    """`text` as `# ` lines wrapped at WRAP, keeping each line's leading indentation."""
    out = []
    for line in text.splitlines() if text else []:
        if not line.strip():
            out.append(f"{indent}#")
            continue
        lead = line[: len(line) - len(line.lstrip())]
        wrapped = textwrap.wrap(
            line,
            max(20, WRAP - len(indent) - 2),
            subsequent_indent=lead,
            break_long_words=False,
            break_on_hyphens=False,
        )
        out += [f"{indent}# {w}" for w in wrapped]
    return out


def toml_ready(node: Any) -> Any:
    """TOML has no null: drop None values (unset optional keys) and make tuples lists."""
    if isinstance(node, dict):
        return {str(k): toml_ready(v) for k, v in node.items() if v is not None}
    if isinstance(node, (list, tuple)):
        return [toml_ready(v) for v in node if v is not None]
    return node
