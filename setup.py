"""Optional compiled build of the simulation's hot path (mypyc).

By default `pip install -e .` installs pure Python, which needs nothing but Python 3.11+.
With SUFFICIENCY_COMPILE=1, the modules that run inside the event loop are compiled with
mypyc (part of mypy) into C extensions: the same source, about 2.8 times faster, results
identical. It needs a C compiler and mypy in the build environment (README, "Faster on
one machine"):

    python -m pip install -e . mypy "setuptools>=68" wheel
    SUFFICIENCY_COMPILE=1 python -m pip install --no-build-isolation --no-deps -e .

An editable build leaves the compiled files beside the sources, where Python prefers
them: rebuild after editing a module (`import sim` warns when a source is newer).
"""

import os

from setuptools import setup

#: The modules the event loop runs through; everything else stays interpreted.
HOT_PATH = [
    "sim/scenario/ages.py",
    "sim/engine/arrivals.py",
    "sim/engine/calendar.py",
    "sim/engine/child.py",
    "sim/engine/clock.py",
    "sim/engine/draws.py",
    "sim/engine/exits.py",
    "sim/engine/hazards.py",
    "sim/engine/matching.py",
    "sim/engine/metrics.py",
    "sim/engine/model.py",
    "sim/engine/month_end.py",
    "sim/engine/placing.py",
    "sim/engine/provision.py",
    "sim/engine/schedule.py",
    "sim/engine/search.py",
    "sim/engine/state.py",
    "sim/engine/supply.py",
]

ext_modules = []
if os.environ.get("SUFFICIENCY_COMPILE") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(HOT_PATH, opt_level="3")

setup(ext_modules=ext_modules)
