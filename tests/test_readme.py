"""Every ```python snippet in README.md runs, so what the README shows keeps working.

How a snippet is run:
- in a fresh namespace, in the order they appear, each on its own (a snippet must import
  what it uses);
- from a temporary folder holding a copy of the repository's `scenarios/`, so the paths
  the README uses (`scenarios/darlington/baseline.toml`) work as written and anything a
  snippet writes (`results/...`) lands in pytest's tmp directory, never in the repository;
- small: every call of `run(...)` or `compare(...)` is given `years=1, reps=4, workers=1,
  progress=False`, whatever it says (a few seconds each). The README keeps the realistic
  values a reader would use; only the size changes here, never what the snippet does.
  The snippet is changed as a syntax tree, so tracebacks still name README.md's lines.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
YEARS, REPS = 1, 4


def snippets() -> list[tuple[int, str]]:
    """(line of the opening fence, code) of every ```python block in the README."""
    found = []
    lines = README.read_text(encoding="utf-8").splitlines()
    start = None
    for i, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = i
        elif start is not None and line.strip() == "```":
            found.append((start, "\n".join(lines[start : i - 1]) + "\n"))
            start = None
    assert start is None, f"README.md:{start}: a ```python block is never closed"
    return found


#: what every run(...) and compare(...) in a snippet is given (see the module docstring)
SMALL = {"years": YEARS, "reps": REPS, "workers": 1, "progress": False}


class _Small(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("run", "compare"):
            node.keywords = [k for k in node.keywords if k.arg not in SMALL] + [
                ast.keyword(arg=k, value=ast.Constant(v)) for k, v in SMALL.items()
            ]
        return node


def small(code: str, line: int = 0) -> ast.Module:
    """The snippet, made small, with its line numbers as in README.md (`line`: its fence)."""
    tree = ast.parse(code)
    ast.increment_lineno(tree, line)
    return ast.fix_missing_locations(_Small().visit(tree))


SNIPPETS = snippets()


def test_the_readme_has_python_snippets() -> None:
    assert len(SNIPPETS) >= 2, "README.md: the ```python snippets were not found"


def test_small_makes_a_snippet_small() -> None:
    code = 'cmp = compare(["a.toml", "b.toml"],\n    years=5, reps=200)\nr = run(s)\n'
    assert ast.unparse(small(code)) == (
        "cmp = compare(['a.toml', 'b.toml'], years=1, reps=4, workers=1, progress=False)\n"
        "r = run(s, years=1, reps=4, workers=1, progress=False)"
    )
    assert small(code, line=10).body[1].lineno == 13


@pytest.mark.parametrize("line,code", SNIPPETS, ids=[f"README.md:{n}" for n, _ in SNIPPETS])
def test_readme_snippet_runs(
    line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    exec(compile(small(code, line), "README.md", "exec"), {"__name__": "__readme__"})
    # a snippet that writes a results folder writes it whole
    for summary in (tmp_path / "results").glob("*/summary.md"):
        assert summary.read_text(encoding="utf-8").startswith("#")
