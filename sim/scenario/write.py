"""Write TOML with comments, for scenario files that people read and edit.

Two writers. A copy of a scenario the user wrote (a run's `scenario.toml`, a sweep's
variants) is the user's own text, comments and sources included, edited in place with
tomlkit: `scenario_copy` and `ScenarioCopies`, at the end of this module. A scenario made
from data (calibrate's, from the template and the fitted numbers, with a comment per key)
is laid out here by `dumps`: `tomli_w` cannot write comments, so `dumps` does the layout
itself and uses `tomli_w` only to format single values (strings, numbers, dates).
Layout rules of `dumps`:

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

import copy
import functools
import re
import textwrap
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit
import tomlkit.items

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


def line_paths(data: dict[str, Any]) -> list[KeyPath]:
    """The paths `dumps` writes as `key = value` lines, in order.

    A comment on one of these paths lands on (or just above) that line, so a caller that
    must say where every number came from (calibrate --published) can tag each line once.
    """
    out: list[KeyPath] = []

    def table(d: dict[str, Any], path: KeyPath) -> None:
        layout = _layout(d, path)
        out.extend((*path, k) for k in d if layout[k] == "inline")
        for k, v in d.items():
            if layout[k] == "table":
                table(v, (*path, k))
            elif layout[k] == "aot":
                for i, element in enumerate(v):
                    table(element, (*path, k, i))

    table(_prune(data), ())
    return out


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


# ========================================================================= copies of scenario files

#: A scenario file as it was read: its path and its text.
SourceFile = tuple[Path, str]


def scenario_copy(
    data: Mapping[str, Any], files: Sequence[SourceFile] = (), header: str = ""
) -> str:
    """A scenario (`data`, as loaded from `files`) as TOML in the words of those files.

    A copy saved beside results must diff cleanly against what the user wrote, so it is
    the user's own text, edited in place with tomlkit, not data written out afresh:

    * one file (no `extends`): the file as it is, below `header`, byte for byte;
    * a chain (`option.toml` extends `baseline.toml`): ONE file that runs on its own,
      which is what a commissioner expects to find beside the results: the base file
      with every value the option sets put where the base set it (the option's line
      and its comment replace the base's), and what the option adds after what the
      base has, each with the comment lines the option wrote above it. The option's
      opening comment (why it exists) comes first, marked with its file name, then the
      base's. So `diff` of a saved baseline and a saved option shows exactly what the
      option changes, with the option's reasons and sources beside each change.

    The result always reads back as exactly `data`, key order included (checked here).
    Where the files cannot give that (none given, or a layout tomlkit cannot edit), the
    copy is `data` written plainly and the header says the comments could not be kept.
    `files` are the texts as read when the scenario was loaded (base first), never
    read again: the files may have changed since the run. `header` (its lines as given,
    not wrapped, so a command in it can be copied) is written as comments, with control
    characters blanked, so no text in it can become a line of TOML.
    Copies with some keys changed (a sweep's variants): `ScenarioCopies`.
    """
    return ScenarioCopies(data, files).write(data, header)


class ScenarioCopies:
    """Copies of one scenario (`data`, as loaded from `files`) with some keys changed, such
    as a sweep's variants: each is the scenario's copy (`scenario_copy`) in which only the
    lines that differ change. A changed line takes as its end-of-line comment the `notes`
    on its key path (or on a path inside it or around it), or loses its old comment,
    which was about the old value; every other line and comment stays.

    The files are parsed and merged once (tomlkit takes about 0.3 s for the Darlington
    files); each copy then edits only the lines that differ, writes the document out and
    puts those lines back, so a copy costs a few hundredths of a second.
    """

    def __init__(self, data: Mapping[str, Any], files: Sequence[SourceFile] = ()) -> None:
        self.data = toml_ready(dict(data))
        self.files = tuple(files)
        self._doc: tomlkit.TOMLDocument | None = None
        self._text = ""  # the document as merged, to check each copy's edits were undone
        self._preamble: list[str] = []
        self._merge()

    def _merge(self) -> None:
        self._doc = None
        if not self.files:
            return
        try:
            self._doc, self._preamble = _merged(self.data, self.files)
            self._text = tomlkit.dumps(self._doc)
        except Exception:  # keeping comments is a nicety; the plain copy is always right
            self._doc = None

    def write(
        self,
        data: Mapping[str, Any],
        header: str = "",
        notes: Mapping[KeyPath, str] | None = None,
    ) -> str:
        """`data` (this scenario, or it with some keys changed) as the text of a copy;
        `header` and `notes` are written as comments (see `scenario_copy`)."""
        ready = toml_ready(dict(data))
        top = [f"# {line}".rstrip() for line in _clean(header).splitlines()]
        body = self._edited(ready, dict(notes or {}))
        if body is not None:
            if not self._preamble:  # one file: the header, a blank line, the file as written
                text = "\n".join(top) + "\n\n" + body if top else body
            else:  # a chain: the header, what the copy is, each file's opening comment
                text = "\n".join([*top, *(["#"] if top else []), *self._preamble]) + "\n" + body
            if _reads_back(text, ready):
                return text
        if self.files:
            names = ", ".join(_clean(Path(p).name) for p, _ in self.files).replace("\n", " ")
            top += [
                *(["#"] if top else []),
                *_comment_lines(
                    f"The comments of {names} could not be kept in this copy: it is the "
                    "scenario written plainly.",
                    "",
                ),
            ]
        text = tomli_w.dumps(ready)
        return "\n".join(top) + "\n\n" + text if top else text

    def _edited(self, data: dict[str, Any], notes: dict[KeyPath, str]) -> str | None:
        """The merged document edited into `data` and written out, then put back as it was
        (or merged again when an edit cannot be undone); None if tomlkit failed."""
        if self._doc is None:
            return None
        undo: list[Callable[[], None] | None] = []
        try:
            _fit(_Table([self._doc]), data, (), notes, undo)
            body: str | None = tomlkit.dumps(self._doc)
        except Exception:  # as above: the plain copy then
            body = None
        try:
            if None in undo:  # a key was removed: its place cannot be given back
                raise ValueError("merge again")
            for step in reversed(undo):
                assert step is not None
                step()
            if undo and tomlkit.dumps(self._doc) != self._text:  # a line moved, say
                raise ValueError("merge again")
        except Exception:  # merge again rather than keep a document in doubt
            self._merge()
        return body


def _merged(
    data: dict[str, Any], files: Sequence[SourceFile]
) -> tuple[tomlkit.TOMLDocument, list[str]]:
    """The files merged into one document holding `data` (the scenario as loaded), and the
    comment lines that head a chain's copy (none for one file)."""
    docs = [_parse_kept(text) for _, text in files]
    out = docs[0]
    heads: list[tuple[str, str]] = []  # (file name, its opening comment), outermost first
    for (path, _), child in zip(files[1:], docs[1:], strict=True):
        blocks, _end = _leading_blocks(child)
        heads.insert(0, (Path(path).name, _opening(child, blocks)))
        _merge_into(_Table([out]), child.body, blocks, data, ())
    undo: list[Callable[[], None] | None] = []
    _fit(_Table([out]), data, (), {}, undo)  # what the merge could not say (whole tables)
    return out, (_chain_preamble(files, heads) if len(files) > 1 else [])


def _parse_kept(text: str) -> tomlkit.TOMLDocument:
    """`text` parsed by tomlkit, with its one known slip undone: a date that ends an inline
    table loses the space before `}` (`{ opens = 2024-04-01}`); its space is put back."""
    doc = tomlkit.parse(text)
    for item in _inline_values(doc):
        t = item.trivia
        if t.comment_ws and not t.comment:
            t.trail, t.comment_ws = t.comment_ws + t.trail, ""
    return doc


def _inline_values(node: Any) -> list[Any]:
    """Every value inside an inline table, however deep (values in tables and arrays too)."""
    out: list[Any] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, tomlkit.items.InlineTable):
            values = [v for k, v in n.value.body if k is not None]
            out += values
            stack += values
        elif isinstance(n, (tomlkit.items.Table, tomlkit.TOMLDocument)):
            container = n.value if isinstance(n, tomlkit.items.Table) else n
            stack += [v for k, v in container.body if k is not None]
        elif isinstance(n, tomlkit.items.AoT):
            stack += list(n.body)
        elif isinstance(n, tomlkit.items.Array):
            stack += list(n)
    return out


def _leading_blocks(doc: tomlkit.TOMLDocument) -> tuple[dict[int, str], str]:
    """The comment lines (and blank lines) written above each key and table header, by the
    item's id, and those left at the end of the file.

    tomlkit keeps the comments above a `[table]` header at the end of the table before it;
    here every run of comments belongs to the next key or header the file shows, which is
    what the person writing it meant. A header-less parent table (`[provision]` implied by
    `[provision.solo_home]`) passes its comments on to its first table.
    """
    blocks: dict[int, str] = {}
    pending: list[str] = []

    def take(item: Any) -> None:
        blocks[id(item)] = "".join(pending)
        pending.clear()

    def walk(container: Any) -> None:
        for key, item in container.body:
            if key is None:
                if isinstance(item, (tomlkit.items.Comment, tomlkit.items.Whitespace)):
                    pending.append(item.as_string())
                continue
            if isinstance(item, tomlkit.items.AoT):
                for table in item.body:
                    take(table)
                    walk(table.value)
                blocks[id(item)] = blocks[id(item.body[0])] if item.body else ""
            elif isinstance(item, tomlkit.items.Table):
                if not item.is_super_table():
                    take(item)
                walk(item.value)
            else:
                take(item)

    walk(doc)
    return blocks, "".join(pending)


def _opening(doc: tomlkit.TOMLDocument, blocks: dict[int, str]) -> str:
    """A file's opening comment: the comment lines above its first key (often `extends`)
    and above `extends`, taken out of the body so they can head the merged copy."""
    text = ""
    for n, (key, item) in enumerate((k, v) for k, v in doc.body if k is not None):
        if n == 0 or key.key == "extends":
            text += blocks.pop(id(item), "")
    return "\n".join(line for line in text.strip("\n").splitlines())


def _chain_preamble(files: Sequence[SourceFile], heads: list[tuple[str, str]]) -> list[str]:
    """What the merged copy is, then each option file's opening comment under its name."""
    names = [_clean(Path(p).name).replace("\n", " ") for p, _ in files]
    last, base = names[-1], names[0]
    out = _comment_lines(
        f"{' extends '.join(reversed(names))}: this copy is "
        f"{'the two' if len(names) == 2 else 'them'} merged into one file, so it runs on "
        f"its own. Every line and comment is from those files: a value {last} sets stands, "
        f"with its comment, where {base} set it, and what it adds follows what {base} has.",
        "",
    )
    for name, text in heads:
        out += ["#", f"# {'-' * 20} {name}", *text.splitlines()]
    return [*out, "#", f"# {'-' * 20} {base}"]


class _Table:
    """One TOML table as tomlkit holds it: the document, or one or more `Table` parts.

    A file may write a table in pieces (`[provision.a]`, then `[population.b]`, then
    `[provision.c]`): tomlkit keeps each piece where it was written and hands out a proxy
    that cannot be edited in place faithfully, so the pieces are kept here as a list. A key
    is read from the piece that has it; a new key goes into the last piece, so it reads
    back after every key the table had, as `extends` puts it.
    """

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def _entries(self) -> list[tuple[Any, str, Any]]:
        out = []
        for part in self.parts:
            body = part.value.body if isinstance(part, tomlkit.items.Table) else part.body
            out += [(part, k.key, v) for k, v in body if k is not None]
        return out

    def names(self) -> list[str]:
        return list(dict.fromkeys(k for _, k, _ in self._entries()))

    def found(self, key: str) -> list[tuple[Any, Any]]:
        """(piece, item) for each place `key` is written."""
        return [(part, v) for part, k, v in self._entries() if k == key]

    def item(self, key: str) -> Any:
        """The item at `key` when it is written once, else None."""
        found = self.found(key)
        return found[0][1] if len(found) == 1 else None

    def table(self, key: str) -> _Table | None:
        """The sub-table at `key` (however many pieces), or None if it is not a `[table]`."""
        items = [v for _, v in self.found(key)]
        if items and all(
            isinstance(v, tomlkit.items.Table) and not isinstance(v, tomlkit.items.InlineTable)
            for v in items
        ):
            return _Table(items)
        return None

    def put(self, key: str, value: Any) -> None:
        """Set `key` where it is written (in place), or add it after everything else."""
        found = self.found(key)
        if len(found) > 1:
            raise ValueError(f"{key} is written in pieces")  # the plain copy then
        part = found[0][0] if found else self.parts[-1]
        # tomlkit gives a replacing value the old line's indent and, if it has none, its
        # comment: both were about the old value, so the new one keeps its own
        keep = _trivia(value)
        part[key] = value
        if keep is not None:
            t = value.trivia
            t.indent, t.comment_ws, t.comment, t.trail = keep

    def drop(self, key: str) -> None:
        for part, _ in self.found(key):
            del part[key]


def _trivia(value: Any) -> tuple[str, str, str, str] | None:
    if isinstance(value, (tomlkit.items.AoT, tomlkit.items.Whitespace)):
        return None
    t = value.trivia
    return t.indent, t.comment_ws, t.comment, t.trail


def _merge_into(
    base: _Table, body: list[tuple[Any, Any]], blocks: dict[int, str], data: Any, at: KeyPath
) -> None:
    """Put the keys of a child file's table (`body`) into `base`, as `extends` does: a table
    the child shares with the base merges key by key, unless the merged data shows it was
    replaced whole (the base has keys the data lacks); anything else replaces the base's
    value where the base wrote it, or is added after the base's keys. The child's comment
    lines go with each key or header they were written above."""
    for key, item in body:
        if key is None or (not at and key.key == "extends"):
            continue
        k = key.key
        want = data.get(k) if isinstance(data, dict) else None
        sub = base.table(k)
        if (
            isinstance(item, tomlkit.items.Table)
            and sub is not None
            and isinstance(want, dict)
            and set(sub.names()) <= set(want)
        ):
            note = blocks.get(id(item), "")
            first = sub.parts[0]
            if "#" in note and not first.is_super_table():
                first.trivia.indent = note + first.trivia.indent
            _merge_into(sub, item.value.body, blocks, want, (*at, k))
            continue
        _detach(item, blocks)
        base.put(k, item)


def _detach(item: Any, blocks: dict[int, str]) -> None:
    """Ready an item from a child file to move into the base: each comment line inside it
    goes onto the key or header it was written above (its indent), not where tomlkit kept
    it, which for the last lines of a table is above whatever follows in the child."""
    tables: list[Any] = []
    if isinstance(item, tomlkit.items.AoT):
        tables = list(item.body)
    elif isinstance(item, tomlkit.items.Table):
        tables = [item]
    else:
        item.trivia.indent = blocks.get(id(item), "") + item.trivia.indent
        return
    for table in tables:
        if not table.is_super_table():
            table.trivia.indent = blocks.get(id(table), "") + table.trivia.indent
        body = table.value.body
        for i, (k, v) in enumerate(body):
            if k is None and isinstance(v, (tomlkit.items.Comment, tomlkit.items.Whitespace)):
                body[i] = (None, tomlkit.items.Null())
            elif k is not None:
                _detach(v, blocks)


def _fit(
    node: _Table,
    data: dict[str, Any],
    at: KeyPath,
    notes: dict[KeyPath, str],
    undo: list[Callable[[], None] | None],
) -> None:
    """Edit `node` in place until it holds exactly `data`: a line that is already right
    keeps its text and comment; a line that changes takes the notes on its path (or loses
    its old comment, which was about the old value). Each edit adds to `undo` how to put
    the line back (None for a removed key, whose place cannot be given back)."""
    for k in [k for k in node.names() if k not in data]:
        node.drop(k)
        undo.append(None)
    for k, v in data.items():
        here = (*at, k)
        sub = node.table(k)
        if isinstance(v, dict) and sub is not None:
            _fit(sub, v, here, notes, undo)
            continue
        cur = node.item(k)
        if (
            isinstance(cur, tomlkit.items.AoT)
            and isinstance(v, list)
            and len(cur.body) == len(v)
            and all(isinstance(x, dict) for x in v)
        ):
            for i, (table, x) in enumerate(zip(cur.body, v, strict=True)):
                _fit(_Table([table]), x, (*here, i), notes, undo)
            continue
        if cur is not None and _strict(_plain(cur)) == _strict(v):
            continue
        if cur is None:
            undo.append(functools.partial(node.drop, k))
        else:
            undo.append(functools.partial(node.put, k, copy.deepcopy(cur)))
        if cur is None or not _edit_inline(cur, v):
            node.put(k, _value_item(v))
            cur = node.item(k)
        _note(cur, here, notes)


def _edit_inline(cur: Any, v: Any) -> bool:
    """Change an inline table or array in place to `v`, element by element, keeping its
    layout and the comments on its lines; False if it cannot (a different kind of value)."""
    if isinstance(cur, tomlkit.items.InlineTable) and isinstance(v, dict):
        for k in [k for k in cur if k not in v]:
            del cur[k]
        for k, x in v.items():
            old = cur.item(k) if k in cur else None
            if old is not None and _strict(_plain(old)) == _strict(x):
                continue
            if old is None or not _edit_inline(old, x):
                cur[k] = _value_item(x)
        return True
    if isinstance(cur, tomlkit.items.Array) and isinstance(v, list) and len(cur) == len(v):
        for i, x in enumerate(v):
            if _strict(_plain(cur[i])) == _strict(x):
                continue
            if not _edit_inline(cur[i], x):
                cur[i] = _value_item(x)
        return True
    return False


def _value_item(v: Any) -> Any:
    """A new value as this module writes one (`{ a = 1, b = 2 }`, spaced as people do)."""
    return _parse_kept(f"x = {_inline(v)}\n").item("x")


def _note(item: Any, here: KeyPath, notes: dict[KeyPath, str]) -> None:
    """The changed line's comment: the notes on its path or inside or around it, or none."""
    texts = [t for p, t in notes.items() if p[: len(here)] == here or here[: len(p)] == p]
    text = " ".join(_clean("; ".join(texts)).split())
    if text:
        item.comment(text)
        item.trivia.comment_ws = "   "
    else:
        item.trivia.comment_ws = ""
        item.trivia.comment = ""


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _strict(v: Any) -> Any:
    """`v` with every scalar tagged by its type, so 1 != 1.0 and True != 1."""
    if isinstance(v, dict):
        return {k: _strict(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_strict(x) for x in v]
    return (type(v), v)


def _reads_back(text: str, data: dict[str, Any]) -> bool:
    """Does `text` read as exactly `data`: the same values of the same types, and, where
    order means something (the names in a table of provisions, needs, ...), the same order?

    Order is checked on the validated scenario (its dump lists a model's fields in the
    schema's order and a table of names in the file's order), because TOML itself moves a
    key written after a `[sub.table]` up above it, which changes nothing a model holds."""
    try:
        back = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    if _strict(back) != _strict(data):
        return False
    from pydantic import ValidationError

    from .schema import Scenario

    try:
        want = Scenario.model_validate(data)
    except ValidationError:
        return True  # not a whole scenario (a test's fragment): the values are what matter
    return _ordered(Scenario.model_validate(back).model_dump()) == _ordered(want.model_dump())


def _ordered(v: Any) -> Any:
    """Dicts as lists of pairs, so comparing them compares their order too."""
    if isinstance(v, dict):
        return [(k, _ordered(x)) for k, x in v.items()]
    if isinstance(v, (list, tuple)):
        return [_ordered(x) for x in v]
    return v
