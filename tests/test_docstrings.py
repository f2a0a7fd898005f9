"""Every public function and class in `sim/` says what it is for, in a docstring.

Public means no leading underscore: module-level functions and classes, and the methods
(properties included) of public classes, in every module whose own name is public. Every
module has a docstring, and every sub-package's `__init__.py` says what its layer holds and
what it may import (README, "Project layout"). Read with `ast`, so nothing is imported.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"

# Names allowed to lack a docstring for a while (work in progress); none now. A name
# listed here that has its docstring (or is gone) only warns.
PENDING: set[str] = set()

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SIM.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _public(name: str) -> bool:
    return not name.startswith("_")


def _accessor(node: Definition) -> bool:
    """`@x.setter` / `@x.deleter`: the property's getter carries the docstring."""
    return any(
        isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter")
        for d in getattr(node, "decorator_list", [])
    )


def undocumented(path: Path) -> Iterator[str]:
    """Dotted names of the public functions, classes and methods in `path` with no docstring."""
    private = path.name != "__init__.py" and not _public(path.stem)  # e.g. `__main__`
    yield from undocumented_source(path.read_text(encoding="utf-8"), module_name(path), private)


def undocumented_source(text: str, module: str, private: bool = False) -> Iterator[str]:
    """`undocumented` for the source `text` of `module` (in a private module, only the module)."""
    tree = ast.parse(text)
    if ast.get_docstring(tree) is None:
        yield f"{module} (the module)"
    if private:
        return
    for node in tree.body:
        if not isinstance(node, Definition) or not _public(node.name):
            continue
        if ast.get_docstring(node) is None:
            yield f"{module}.{node.name}"
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if (
                    isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
                    and _public(member.name)
                    and not _accessor(member)
                    and ast.get_docstring(member) is None
                ):
                    yield f"{module}.{node.name}.{member.name}"


def missing() -> list[str]:
    return [name for path in sorted(SIM.rglob("*.py")) for name in undocumented(path)]


def test_every_public_function_and_class_has_a_docstring() -> None:
    found = missing()
    stale = sorted(PENDING - set(found))
    if stale:
        warnings.warn(
            f"tests/test_docstrings.py: remove from PENDING (documented or gone): {stale}",
            stacklevel=1,
        )
    wanting = [name for name in found if name not in PENDING]
    assert not wanting, "no docstring (say in a line or two what it is for):\n" + "\n".join(wanting)


def test_every_layer_says_what_it_holds_and_may_import() -> None:
    packages = sorted(p for p in SIM.rglob("__init__.py") if p.parent != SIM)
    assert packages, "no sub-packages found under sim/"
    for path in packages:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        name = module_name(path)
        assert len(doc.split()) >= 25, f"{name}: the docstring should say what the layer holds"
        assert "import" in doc, f"{name}: the docstring should say what the layer may import"


def test_the_check_finds_what_is_missing() -> None:
    text = (
        "def f(): pass\n"
        "def _g(): pass\n"
        "class A:\n"
        '    """A class."""\n'
        "    def m(self): pass\n"
        "    def _n(self): pass\n"
        "    def __init__(self): pass\n"
        "    @property\n"
        "    def p(self):\n"
        '        """A property."""\n'
        "    @p.setter\n"
        "    def p(self, v): pass\n"
        "class _B:\n"
        "    def m(self): pass\n"
    )
    found = list(undocumented_source(text, "sim.probe"))
    assert found == ["sim.probe (the module)", "sim.probe.f", "sim.probe.A.m"], found
    assert list(undocumented_source(text, "sim.__main__", private=True)) == [
        "sim.__main__ (the module)"
    ]
