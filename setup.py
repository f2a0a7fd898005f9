"""Build: the event loop compiled with mypyc where this machine can, pure Python otherwise.

`pip install .` and `pip install -e .` compile the modules in HOT_PATH with mypyc (part of
mypy, which pip puts in the build environment: pyproject.toml, [build-system]) into C
extensions: the same source, about 2.8 times faster, results identical to the last digit.
Where that cannot be done (no C compiler or Python headers, a platform or Python mypyc
does not support, any other failure) the build prints one note and installs pure Python,
which needs nothing but Python 3.11+. `sufficiency --version` says which build you have.

SUFFICIENCY_COMPILE=0 builds pure Python (developers editing the engine: an editable
compiled install leaves the compiled files beside the sources, where Python prefers them,
so an edited module would run its old compiled code until rebuilt; `import sim` warns).
SUFFICIENCY_COMPILE=1 makes a failed compile an error instead of a fallback (CI).
"""

import os
import sys
import warnings

from setuptools import setup
from setuptools.command.build_ext import build_ext

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
    "sim/engine/homes.py",
    "sim/engine/market.py",
    "sim/engine/matching.py",
    "sim/engine/metrics.py",
    "sim/engine/model.py",
    "sim/engine/month_end.py",
    "sim/engine/needs.py",
    "sim/engine/placing.py",
    "sim/engine/provision.py",
    "sim/engine/schedule.py",
    "sim/engine/search.py",
    "sim/engine/state.py",
    "sim/engine/supply.py",
]

#: setup.py commands that build code; the others (egg_info, dist_info, sdist) only need
#: metadata, and pip runs them first: compiling there too would triple the install time.
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}

COMPILE = os.environ.get("SUFFICIENCY_COMPILE", "").strip()  # "0": pure, "1": must compile


def _fall_back(why: str) -> None:
    """Pure Python after all, with one line saying so (or stop, if compiling was demanded)."""
    why = " ".join(why.split())[:300] or "unknown error"
    if COMPILE == "1":
        sys.exit(f"error: SUFFICIENCY_COMPILE=1 but compiling the event loop failed: {why}")
    # A warning, not a print: pip shows a build backend's warnings and hides its output.
    warnings.warn(
        f"sufficiency installs as pure Python, about 2.8 times slower: compiling the "
        f"event loop failed ({why}). See README, 'Faster on one machine'.",
        stacklevel=1,
    )


def _remove_old_compiled_files() -> None:
    """Before an editable build: the compiled files an earlier one left beside the sources.

    Python prefers them to the sources, so after a pure build (SUFFICIENCY_COMPILE=0, or a
    failed compile) they would go on running old code. Only extensions of this package's
    own modules (a .py beside them) and mypyc's shared library are removed."""
    root = os.path.dirname(os.path.abspath(__file__))
    for folder, _, files in os.walk(os.path.join(root, "sim")):
        for name in files:
            source = os.path.join(folder, name.split(".")[0] + ".py")
            if name.endswith((".so", ".pyd")) and os.path.exists(source):
                os.remove(os.path.join(folder, name))
    for name in os.listdir(root):
        if name.startswith("sim__mypyc.") and name.endswith((".so", ".pyd")):
            os.remove(os.path.join(root, name))


def _compiled_extensions() -> list:
    """mypyc's extensions for HOT_PATH, or none (SUFFICIENCY_COMPILE=0, or mypyc failed)."""
    if {"editable_wheel", "develop"} & set(sys.argv[1:]):
        _remove_old_compiled_files()
    if COMPILE == "0" or not BUILD_COMMANDS & set(sys.argv[1:]):
        return []
    try:
        from mypyc.build import mypycify

        # mypy checks the compiled modules; what they import (through sim/__init__.py's
        # lazy names, the whole package) it reads for types but does not judge here.
        return mypycify(["--follow-imports=silent", *HOT_PATH], opt_level="3", group_name="sim")
    except SystemExit:  # mypy found errors in the source, and printed them
        _fall_back("mypy reported errors, printed above")
    except Exception as exc:  # no mypy in the build environment, a platform it lacks, ...
        _fall_back(f"{type(exc).__name__}: {exc}")
    return []


class OptionalBuildExt(build_ext):
    """Compile the extensions; if the C compiler fails, remove what was built and go on
    as pure Python (the .py files are installed either way)."""

    def run(self) -> None:
        inplace = self.inplace
        try:
            super().run()  # builds into build/ (inplace off), then copies beside the sources
        except Exception as exc:
            self.inplace = 0  # half a build must not be installed: some modules without the rest
            for ext in self.extensions:
                built = self.get_ext_fullpath(ext.name)
                if os.path.exists(built):
                    os.remove(built)
            self.inplace = inplace
            self.extensions = []
            self.distribution.ext_modules = []
            _fall_back(f"{type(exc).__name__}: {exc}")


setup(ext_modules=_compiled_extensions(), cmdclass={"build_ext": OptionalBuildExt})
