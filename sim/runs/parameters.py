"""Parameter uncertainty: each replication draws its own values of the uncertain numbers.

A scenario's `uncertainty` holds the numbers given as { median, interval90 } (fitted rates
from `calibrate`, or a hand-built scenario's own ranges). Replication i draws one value of
each from a stream of its own, derived from its seed and the number's key, and not from
the streams the simulation uses:

* the same seed gives the same draws whatever the number of workers (as for everything
  else in a replication);
* an option and its baseline run with the same seed draw the same deviate for every key
  they share, so they share the drawn rates (common random numbers), and an option that
  moves a median moves every replication's value with it;
* switching parameter uncertainty off leaves every other random number as it was: the
  replication then runs at the medians, with exactly the chance it had before.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..scenario.schema import Scenario
from ..scenario.uncertain import with_values

#: first spawn-key entry of the parameter streams: far above the simulation's own streams
#: (spawned 0, 1, 2, ... from the replication's seed), so they never coincide
PARAMETER_STREAM = 2**32 - 1


def deviate(seed: np.random.SeedSequence, key: str) -> float:
    """The standard normal deviate replication `seed` uses for the number at `key`."""
    ss = np.random.SeedSequence(
        entropy=seed.entropy,
        spawn_key=(*seed.spawn_key, PARAMETER_STREAM, zlib.crc32(key.encode("utf-8"))),
    )
    return float(np.random.default_rng(ss).standard_normal())


def drawn(scenario: Scenario, seed: np.random.SeedSequence) -> Scenario:
    """The scenario with each uncertain number at replication `seed`'s own value."""
    if not scenario.uncertainty:
        return scenario
    values = {
        key: interval.value(deviate(seed, key)) for key, interval in scenario.uncertainty.items()
    }
    return with_values(scenario, values)  # type: ignore[no-any-return]


def values(scenario: Scenario, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Every replication's drawn value of each uncertain number (for reports and tests)."""
    return {
        key: np.array([interval.value(deviate(s, key)) for s in seeds])
        for key, interval in scenario.uncertainty.items()
    }
