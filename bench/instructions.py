"""Instructions per replication of the county workload, counted by callgrind.

Wall time on a shared or virtual machine varies from run to run; the number of
instructions the interpreter executes does not. This runs the model under valgrind's
callgrind twice, for 0 and for N replications, and prints the difference per replication,
so two versions of the model can be compared on any machine, busy or not. Needs valgrind
(Debian: `apt-get install valgrind`); about a minute for N=2.

    python bench/instructions.py [--reps N] [--scenario FILE] [--years Y]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import sys
sys.path.insert(0, {root!r})
from sim.engine.model import Model
from sim.scenario.load import load
s = load({scenario!r}).model
for i in range(int(sys.argv[1])):
    Model(s, {years!r}, i + 1).run()
"""


def instructions(script: Path, reps: int, out: Path) -> int:
    """Instructions callgrind counted for one run of `script` with `reps` replications."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(script),
            str(reps),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=2, help="replications counted (default 2)")
    p.add_argument("--scenario", default=str(ROOT / "scenarios/bench/county.toml"))
    p.add_argument("--years", type=float, default=10)
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.py"
        script.write_text(
            RUN.format(root=str(ROOT), scenario=args.scenario, years=args.years), encoding="utf-8"
        )
        base = instructions(script, 0, Path(tmp) / "cg.0")
        total = instructions(script, args.reps, Path(tmp) / "cg.n")
    per_rep = (total - base) / args.reps
    name = Path(args.scenario).stem
    print(f"{name} {args.years:g}y: {per_rep / 1e9:.3f} G instructions per replication")


if __name__ == "__main__":
    main()
