"""Optional compiled build of the simulation's hot path (mypyc).

By default `pip install .` installs pure Python, which needs nothing but Python 3.11+.
With SUFFICIENCY_COMPILE=1, the modules that run inside the event loop are compiled with
mypyc (part of mypy) into C extensions: the same source, about 1.8 times faster, results
identical. It needs a C compiler and mypy in the build environment:

    python -m pip install mypy setuptools wheel
    SUFFICIENCY_COMPILE=1 python -m pip install --no-build-isolation .

Use a normal (not editable, no -e) install for this: an editable compiled build leaves
.so files beside the sources, which Python would keep importing after the .py changes.
"""

import os

from setuptools import setup

#: The modules the event loop runs through; everything else stays interpreted.
HOT_PATH = [
    "sim/ages.py",
    "sim/calendar.py",
    "sim/child.py",
    "sim/draws.py",
    "sim/hazards.py",
    "sim/matching.py",
    "sim/metrics.py",
    "sim/model.py",
    "sim/provision.py",
    "sim/search.py",
]

ext_modules = []
if os.environ.get("SUFFICIENCY_COMPILE") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(HOT_PATH, opt_level="3")

setup(ext_modules=ext_modules)
