"""The package's shape: layers that depend one way, no import cycles, no borrowed privates.

`sim/` is layered (README, "Project layout"): common <- scenario <- engine <- runs <-
calibration, reports <- app (the web app) <- cli, where calibration and reports sit side by side and only
reports may read calibration (to write a calibration or backtest report), never the
other way round. A module may import from its own layer and the layers below,
never above: the engine must not know how results are written, a report must not reach
into the command line. The root package `sim` is the public facade; it imports lazily,
so any module may read `sim.__version__` from it.

Import cycles are judged on imports that run (TYPE_CHECKING blocks are only for type
hints, under `from __future__ import annotations`); layers on every import, type hints
included, because a type from a higher layer is a dependency too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"
#: layer of each sub-package; a module may import only from layers <= its own
LAYERS = {
    "common": 0,
    "scenario": 1,
    "engine": 2,
    "runs": 3,
    "reports": 4,
    "calibration": 4,
    "app": 5,
    "cli": 6,
}
#: same-level packages: (importer, imported) pairs that are not allowed
SIBLINGS_APART = {("calibration", "reports")}
#: documented public names that merely start with an underscore
PUBLIC_UNDERSCORED = {"os._exit"}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. "sim.engine.model"
    target: str  # imported module, e.g. "sim.scenario.schema"
    line: int
    runtime: bool  # False inside `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SIM.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hinted = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            # `from pkg import module` imports the module; `from module import name` the module
            targets = [
                f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names
            ]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t.startswith("sim"):
                yield Import(name, t, node.lineno, node.lineno not in hinted)


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


ALL = modules()
EDGES = [imp for n, p in ALL.items() for imp in imports(n, p, ALL)]


def test_every_module_is_in_a_layer() -> None:
    stray = [n for n in ALL if n != "sim" and layer(n) not in LAYERS]
    assert not stray, f"modules outside the layers {sorted(LAYERS)}: {stray}"


def test_layers_depend_one_way() -> None:
    wrong = []
    for imp in EDGES:
        a, b = layer(imp.source), layer(imp.target)
        if a is None or b is None or a == b:
            continue  # the root facade, or within one layer
        if LAYERS[b] > LAYERS[a] or (a, b) in SIBLINGS_APART:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} ({a} -> {b})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_root_package_is_only_a_facade() -> None:
    # below the facade, a module may take `__version__` or `COMPILED` from `sim`, nothing more
    for imp in EDGES:
        if imp.target == "sim" and imp.source != "sim":
            text = ALL[imp.source].read_text(encoding="utf-8").splitlines()[imp.line - 1]
            assert "__version__" in text or "COMPILED" in text, f"{imp.source}:{imp.line}: {text}"


def _cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    edges = [(i.source, i.target) for i in EDGES if i.runtime and i.target != "sim"]
    assert not _cycles(edges), f"import cycles: {_cycles(edges)}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert _cycles([("a", "b"), ("b", "c")]) == []


def _own_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines itself: its functions, classes, attributes, slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries, dataclass fields by name
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_uses(path: Path) -> list[str]:
    """`from x import _name` and `obj._name` where the module does not define `_name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _own_private_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"line {node.lineno}: imports {a.name}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in own
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            and ast.unparse(node) not in PUBLIC_UNDERSCORED
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_private_name_used_outside_its_module(name: str) -> None:
    found = private_uses(ALL[name])
    assert not found, f"{name} uses names private to other modules or libraries:\n" + "\n".join(
        found
    )


def test_the_private_name_check_sees_a_borrowed_name(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text("from x import _hidden\nimport simpy\nq = simpy.Environment()._queue\n")
    assert len(private_uses(p)) == 2
    p.write_text(
        "class A:\n    def __init__(self):\n        self._x = 1\n    def same(self, o):\n        return o._x\n"
    )
    assert private_uses(p) == []
