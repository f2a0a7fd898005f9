"""Which build of the package is running (pure Python, or with compiled modules), and
what a run records about it.

`setup.py` compiles the event loop's modules with mypyc where it can. Python then imports
the compiled file in preference to the source, so a source edited after a build would be
silently ignored: this warns when that happens.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path
from typing import Any


def _compiled_modules() -> list[str]:
    """Modules of this package loaded as compiled extensions (see setup.py), if any."""
    package = Path(__file__).resolve().parents[1]
    stale, compiled = [], []
    for ext in sorted(package.rglob("*.so")) + sorted(package.rglob("*.pyd")):
        source = ext.with_name(ext.name.split(".")[0] + ".py")
        if source.exists():
            compiled.append(source.stem)
            # (a second's grace: an install may write the two files a moment apart)
            if source.stat().st_mtime > ext.stat().st_mtime + 2.0:
                stale.append(source.name)
    if stale:
        warnings.warn(
            f"compiled modules are older than their sources ({', '.join(stale)}): Python "
            "runs the old compiled code. Rebuild (python -m pip install -e .), or install the "
            "pure build (SUFFICIENCY_COMPILE=0 python -m pip install -e .).",
            stacklevel=2,
        )
    return compiled


#: Modules running as compiled code (none in a pure build: SUFFICIENCY_COMPILE=0, or no compiler).
COMPILED = _compiled_modules()


def describe() -> str:
    """The build in a few words, as `sufficiency --version` shows it: "compiled: 11 modules"
    or "pure Python"."""
    return f"compiled: {len(COMPILED)} modules" if COMPILED else "pure Python"


@cache
def source_commit() -> dict[str, Any] | None:
    """The git commit of the package's own checkout, and whether its files differ from it;
    None for an installed wheel, a tree outside git, or no git at all.

    Asked of the folder holding `sim/`, never the current directory (a run started inside
    some other repository must not record that repository's commit), and only when git
    tracks this very file (a virtual environment inside a checkout holds an installed copy,
    which git does not track)."""
    import subprocess  # here, not above: `import sim` stays quick (see sim/__init__.py)

    package = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(package), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):  # no git, or it hung
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if git("ls-files", "--error-unmatch", "--", "common/build.py") is None:
        return None
    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"commit": commit, "modified": bool(changed)}


def build_info() -> dict[str, Any]:
    """What a run records about the code that made it (run.json's "build"): the version,
    the build, the source's git commit when there is one, and the versions of Python,
    numpy and SimPy."""
    import platform
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    from .. import __version__

    return {
        "sufficiency": __version__,
        "build": "compiled" if COMPILED else "pure",
        "compiled_modules": list(COMPILED),
        "git": source_commit(),
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "simpy": version("simpy"),
    }
