"""Files shipped inside the package: the calibration template, placement map, districts.

Read through `importlib.resources`, so they are found in a wheel installed anywhere, not
only beside a source checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: the folder of shipped files, inside this package
_FOLDER = "data"


def packaged_file(name: str) -> Path:
    """Path of a shipped file (installs unpack the package into folders, so it is real)."""
    return Path(str(resources.files(__package__).joinpath(_FOLDER, name)))


#: scenario giving everything the SSDA903 return cannot (costs, capacity, policy)
DEFAULT_TEMPLATE = packaged_file("template.toml")
#: SSDA903 placement, exit and move codes -> the template's provisions and routes
DEFAULT_MAP = packaged_file("placement_map.toml")
#: DfE published-table categories -> the template's provisions and exit routes (--published)
PUBLISHED_MAP = packaged_file("published_map.toml")
#: made-up postcode districts and centroids for the synthetic data set
DISTRICTS = packaged_file("synthetic_postcode_districts.csv")
