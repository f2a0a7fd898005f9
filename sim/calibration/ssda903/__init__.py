"""Calibration input: an LA's SSDA903 (children looked after) return.

`read_903(folder)` reads and checks the CSV tables and stitches the years into one
history; `placements(ds)` and `periods(ds)` turn its episodes into the stays a
placement model needs. See `/work/shared/ssda903.md` for the return itself.

Part of the calibration layer, and its lowest part: it knows the return, not the model,
so it may import only `sim.common` (and `sim.scenario` should it need the age bands);
`fit`, `backtest` and `synth903` import it, and so may `sim.reports` and `sim.cli`.
"""

from .episodes import periods, placements
from .read import DataError, Dataset, Problem, read_903

__all__ = ["DataError", "Dataset", "Problem", "periods", "placements", "read_903"]
