"""Which build of the package is running: pure Python, or with compiled modules.

`setup.py` can compile the event loop's modules with mypyc. Python then imports the
compiled file in preference to the source, so a source edited after a build would be
silently ignored: this warns when that happens.
"""

from __future__ import annotations

import warnings
from pathlib import Path


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
            "runs the old compiled code. Rebuild (see setup.py) or delete sim/**/*.so.",
            stacklevel=2,
        )
    return compiled


#: Modules running as compiled code (empty for the normal, pure-Python install).
COMPILED = _compiled_modules()
