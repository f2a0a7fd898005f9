"""sufficiency: simulate placement demand and supply for children in care.

The public API a notebook or script needs:

    from sim import load, run, simulate
    baseline = load("scenarios/darlington/baseline.toml")
    results = run(baseline, years=5, reps=200, seed=1)

    from sim.runs.compare import compare, write_outputs
    options = compare([baseline, load("scenarios/darlington/solo-homes.toml")], years=5)
    write_outputs(options, "results/options")

`compare` stays in its own module (it brings in pandas, which `import sim` does not need).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Eager: cheap, and it warns at once when a compiled build is older than its sources.
from .common.build import COMPILED

if TYPE_CHECKING:
    from .engine.model import simulate
    from .runs.montecarlo import Results, run
    from .scenario.load import LoadedScenario, load, loads

#: Where each public name lives. Imported on first use, so that `sufficiency` starts in a
#: few hundredths of a second and has its signal handlers in place before numpy, SimPy
#: and the model load (a SIGTERM while they loaded ended the command with no message).
_LAZY = {
    "simulate": "engine.model",
    "Results": "runs.montecarlo",
    "run": "runs.montecarlo",
    "LoadedScenario": "scenario.load",
    "load": "scenario.load",
    "loads": "scenario.load",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
