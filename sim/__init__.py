"""sufficiency: simulate placement demand and supply for children in care.

Everything a notebook or script needs is importable from `sim` itself; nothing below
`sim.` (the layers `sim.scenario`, `sim.runs`, `sim.reports`, ...) is needed:

    from sim import load, run, write_report
    baseline = load("scenarios/darlington/baseline.toml")
    results = run(baseline, years=5, reps=200, seed=1)
    write_report(results, "results/baseline")       # the folder `sufficiency run` writes

    from sim import compare, sentences, write_comparison
    cmp = compare([baseline, load("scenarios/darlington/solo-homes.toml")], years=5)
    print(*sentences(cmp), sep="\\n")               # one verdict per option
    write_comparison(cmp, "results/options")         # the folder `sufficiency compare` writes

The public names, by what they are for:

- scenarios: `load` (a file, with `extends`), `loads` (TOML text), `LoadedScenario`,
  `Scenario` (the validated model), `ScenarioError` (a mistake in a file, with its line)
  and `UserError` (any mistake the user can fix; ScenarioError is one);
- simulating: `run` (many replications, giving `Results`), `simulate` (one replication),
  `compare` (options paired with the baseline on the same random numbers, giving a
  `Comparison`);
- reading and writing results: `write_report` and `headline_lines` for a run;
  `write_comparison`, `sentences`, `key_table`, `chart_differences` and
  `chart_cumulative_saving` for a comparison;
- presenting your own tables and charts as the reports do: `money`, `count`, `pct`,
  `style_axes`, `option_colour`, `TOTAL_COLOUR`;
- `__version__`, and `COMPILED` (the compiled modules; empty in the pure Python build).

`import sim` stays cheap: each name is imported on first use (numpy, pandas and
matplotlib load only when a name that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Eager: cheap, and it warns at once when a compiled build is older than its sources.
from .common.build import COMPILED

if TYPE_CHECKING:
    from .common.errors import ScenarioError, UserError
    from .engine.model import simulate
    from .reports.comparison import key_table
    from .reports.comparison import write_outputs as write_comparison
    from .reports.comparison_charts import chart_cumulative_saving, chart_differences
    from .reports.comparison_words import sentences
    from .reports.presentation import TOTAL_COLOUR, count, money, option_colour, pct, style_axes
    from .reports.run import headline_lines, write_report
    from .runs.compare import Comparison, compare
    from .runs.montecarlo import Results, run
    from .scenario.load import LoadedScenario, load, loads
    from .scenario.schema import Scenario

#: Where each public name lives: "module" or "module:name" (when the public name differs).
#: Imported on first use, so that `sufficiency` starts in a few hundredths of a second and
#: has its signal handlers in place before numpy, SimPy and the model load (a SIGTERM
#: while they loaded ended the command with no message).
_LAZY = {
    # scenarios
    "LoadedScenario": "scenario.load",
    "load": "scenario.load",
    "loads": "scenario.load",
    "Scenario": "scenario.schema",
    "ScenarioError": "common.errors",
    "UserError": "common.errors",
    # simulating
    "simulate": "engine.model",
    "Results": "runs.montecarlo",
    "run": "runs.montecarlo",
    "Comparison": "runs.compare",
    "compare": "runs.compare",
    # reading and writing results
    "headline_lines": "reports.run",
    "write_report": "reports.run",
    "key_table": "reports.comparison",
    "write_comparison": "reports.comparison:write_outputs",
    "sentences": "reports.comparison_words",
    "chart_cumulative_saving": "reports.comparison_charts",
    "chart_differences": "reports.comparison_charts",
    # presentation
    "TOTAL_COLOUR": "reports.presentation",
    "count": "reports.presentation",
    "money": "reports.presentation",
    "option_colour": "reports.presentation",
    "pct": "reports.presentation",
    "style_axes": "reports.presentation",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used (see `_LAZY`)."""
    if name in _LAZY:
        module, _, attribute = _LAZY[name].partition(":")
        value = getattr(importlib.import_module(f".{module}", __name__), attribute or name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too, before they are first used (for tab completion)."""
    return sorted({*globals(), *_LAZY})


__all__ = [
    "COMPILED",
    "TOTAL_COLOUR",
    "Comparison",
    "LoadedScenario",
    "Results",
    "Scenario",
    "ScenarioError",
    "UserError",
    "__version__",
    "chart_cumulative_saving",
    "chart_differences",
    "compare",
    "count",
    "headline_lines",
    "key_table",
    "load",
    "loads",
    "money",
    "option_colour",
    "pct",
    "run",
    "sentences",
    "simulate",
    "style_axes",
    "write_comparison",
    "write_report",
]
