"""Regression baseline: fixed-seed runs and a calibration give exactly the saved outputs.

The saved files (tests/baseline/saved/) change only through `python tests/baseline/update.py`,
in a commit that says why. A failure here means results moved: if that was meant, update
the baseline; if not, the change has a bug. Exact comparison is right because every
number comes from seeded streams whose results do not depend on workers or build.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "baseline"))

from cases import cases, saved

CASES = cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_saved_baseline(case: str) -> None:
    old = saved(case)
    assert old, f"no saved baseline for {case}: run python tests/baseline/update.py {case}"
    new = CASES[case]()
    assert sorted(new) == sorted(old), f"{case}: files differ ({sorted(new)} vs {sorted(old)})"
    for name in sorted(new):
        if new[name] != old[name]:
            diff = difflib.unified_diff(
                old[name].splitlines(), new[name].splitlines(), "saved", "now", lineterm="", n=0
            )
            shown = "\n".join(list(diff)[:30])
            pytest.fail(
                f"{case}/{name} differs from the saved baseline "
                f"(python tests/baseline/update.py {case} rewrites it, on purpose only):\n{shown}"
            )
