"""Rewrite the saved regression baseline: the only way to change it.

    python tests/baseline/update.py            # recompute every case, print what changed
    python tests/baseline/update.py CASE ...   # only these cases

A change to the model that moves results on purpose updates the baseline in the same
commit, and the commit message says why. Run it, read what it prints, then commit.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import SAVED, cases, saved  # noqa: E402


def main(argv: list[str]) -> int:
    known = cases()
    chosen = argv or list(known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return 2
    changed = 0
    for case in chosen:
        new = known[case]()
        old = saved(case)
        folder = SAVED / case
        folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(set(new) | set(old)):
            before, after = old.get(name), new.get(name)
            if before == after:
                continue
            changed += 1
            if after is None:
                (folder / name).unlink()
                print(f"{case}/{name}: removed")
                continue
            (folder / name).write_text(after, encoding="utf-8")
            if before is None:
                print(f"{case}/{name}: new ({after.count(chr(10))} lines)")
                continue
            diff = list(
                difflib.unified_diff(
                    before.splitlines(), after.splitlines(), "saved", "now", lineterm="", n=0
                )
            )
            shown = [d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")]
            print(f"{case}/{name}: {len(shown)} line(s) changed")
            for line in shown[:20]:
                print(f"    {line}")
            if len(shown) > 20:
                print(f"    ... and {len(shown) - 20} more")
    print(f"{changed} file(s) changed" if changed else "baseline unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
