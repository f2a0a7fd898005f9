"""Many replications and what is computed from them, before anything is written.

`montecarlo` (seeds and replications, giving `Results`), `engines` (this machine's
processes or a Dask cluster), `store` (replications kept on disk), `budget` (the memory,
disk and time a run will need), `compare` (options paired with the baseline: differences,
break-even, ranking), `sweep` (grids of variants) and `commissioners` (what each measure
of unmet demand as commissioners mean it counts, for every report that shows them). It
may import `sim.engine`, `sim.scenario` and `sim.common`; words, tables and charts for
people are `sim.reports`' job, so nothing here imports that layer (or `sim.calibration`
or `sim.cli`).
"""
