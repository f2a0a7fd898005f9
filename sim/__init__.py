"""sufficiency: simulate placement demand and supply for children in care.

The public API a notebook or script needs:

    from sim import load, run, simulate
    baseline = load("scenarios/darlington/baseline.toml")
    results = run(baseline, years=5, reps=200, seed=1)
"""

__version__ = "0.1.0"

from .montecarlo import Results, run  # noqa: E402
from .model import simulate  # noqa: E402
from .scenario import LoadedScenario, load, loads  # noqa: E402

__all__ = ["LoadedScenario", "Results", "__version__", "load", "loads", "run", "simulate"]
