"""Shared helpers for the model tests.

* `minimal_raw()` gives a fresh, mutable copy of `tests/data/minimal.toml` as a dict, so a
  test can change one thing and validate it with `scenario_from()`.
* `RecordingModel` is the real `sim.engine.model.Model` with two pieces of test instrumentation
  and no change to its behaviour:
    - every child ever created is kept (`children_by_id`; the event log has no date of
      birth, needs level, UASC/disability flags or sibling group);
    - a `("month_end", m)` row is written to the event log at the exact moment the
      monthly snapshot of month m is taken, so a replay of the log can be compared with
      the monthly arrays without guessing how events that fall exactly on a month
      boundary were ordered relative to the snapshot;
    - at each month end it checks that the places reserved for pending offers equal the
      number of children waiting for them (`reservation_errors`).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
# `pytest` run without the package installed: use the source tree. An installed package
# (editable, or a compiled build: see setup.py) is left as it is, so its tests test it.
if importlib.util.find_spec("sim") is None:
    sys.path.insert(0, str(ROOT))

from sim.engine.model import Model  # noqa: E402
from sim.scenario.schema import Scenario, cross_reference_errors  # noqa: E402

MINIMAL = Path(__file__).resolve().parent / "data" / "minimal.toml"

#: every file a run's results folder must hold
RUN_OUTPUTS = (
    "replications.csv.gz",
    "yearly.csv",
    "summary.csv",
    "summary_by_year.csv",
    "summary.md",
    "scenario.toml",
    "run.json",
    "chart_children_in_care.png",
    "chart_cost.png",
    "chart_unmet_demand.png",
    "chart_placed_in_area.png",
)

with MINIMAL.open("rb") as _fh:
    _MINIMAL_RAW: dict[str, Any] = tomllib.load(_fh)

# Property tests: every example is a short simulation, so no per-example deadline.
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# Reproducible runs for CI: the same examples every time.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def minimal_raw() -> dict[str, Any]:
    """A deep copy of the minimal test scenario as plain TOML data."""
    return copy.deepcopy(_MINIMAL_RAW)


def still(raw: dict[str, Any]) -> dict[str, Any]:
    """Nobody leaves, moves or breaks down, no UASC, no foster households come or go: the
    only changes are the entries a test sets, so what it counts is what it placed."""
    raw["entries"]["uasc"]["per_year"] = 0.0
    raw["exits"] = {}
    raw["moves"] = []
    for spec in raw["provision"].values():
        spec["breakdown_per_year"] = 0.0
        if spec["kind"] == "foster":
            spec["deregistration_per_year"] = 0.0
            spec["recruitment_per_year"] = 0.0
    return raw


def scenario_from(raw: dict[str, Any]) -> Scenario:
    """Validate scenario data, including the cross-reference checks `load` makes."""
    s = Scenario.model_validate(raw)
    problems = cross_reference_errors(s)
    assert not problems, problems
    return s


class RecordingModel(Model):
    """`Model` that remembers its children and marks month ends in the event log."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.reservation_errors: list[tuple[int, list[int], list[int]]] = []
        kwargs.setdefault("record_events", True)
        kwargs.setdefault("keep_children", True)
        super().__init__(*args, **kwargs)
        self.month_end.before_snapshot.append(self._mark_month_end)

    @property
    def children_by_id(self) -> dict[int, Any]:
        return {c.cid: c for c in self.all_children or []}

    def _check_reservations(self, m: int) -> None:
        """Places promised by pending offers == children waiting for an offer there."""
        reserved = self.state.reserved
        waiting = [0] * len(reserved)
        for c in self.state.children.values():
            if c.pending is not None:
                waiting[c.pending[0]] += 1
        if list(reserved) != waiting:
            self.reservation_errors.append((m, list(reserved), waiting))

    def _mark_month_end(self, m: int) -> None:
        # a row exactly where the month-end snapshot happens, so the replay knows which
        # side of it an event falling on a month boundary was counted
        self.state.log("month_end", m)
        self._check_reservations(m)


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would (module form works before `pip install`)."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=timeout,
    )


#: Seconds the test process may take to exit after the last test before a watchdog says
#: which threads hold it and ends it: a run never hangs CI for its 90 minutes without
#: saying why (a pool's thread blocked on a pipe, a server left running).
EXIT_GRACE = 120


def pytest_unconfigure(config: Any) -> None:
    """Arm the exit watchdog: if the process is still here EXIT_GRACE seconds after
    pytest has finished, print every thread's stack and exit with pytest's own status."""
    import faulthandler
    import threading

    status = int(getattr(config, "_sufficiency_status", 0))

    def stuck() -> None:
        sys.stderr.write(
            f"\nerror: the test process did not exit {EXIT_GRACE} s after the last test; "
            "its threads:\n"
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(status)  # the tests ran: their verdict stands, and the stacks say why

    timer = threading.Timer(EXIT_GRACE, stuck)
    timer.daemon = True
    timer.start()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Keep the session's exit status for the exit watchdog."""
    session.config._sufficiency_status = int(exitstatus)
