"""sufficiency: simulate placement demand and supply for children in care.

The public API a notebook or script needs:

    from sim import load, run, simulate
    baseline = load("scenarios/darlington/baseline.toml")
    results = run(baseline, years=5, reps=200, seed=1)

    from sim.compare import compare, write_outputs
    options = compare([baseline, load("scenarios/darlington/solo-homes.toml")], years=5)
    write_outputs(options, "results/options")

`compare` stays in its own module (it brings in pandas, which `import sim` does not need).
"""

__version__ = "0.1.0"

from .build import COMPILED
from .model import simulate
from .montecarlo import Results, run
from .scenario import LoadedScenario, load, loads

__all__ = [
    "COMPILED",
    "LoadedScenario",
    "Results",
    "__version__",
    "load",
    "loads",
    "run",
    "simulate",
]
