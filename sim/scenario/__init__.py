"""Scenario files: what they may say, and how they are read and written.

`schema` (what a file may say and the rules it must obey), `load` (reading one, with
`extends`, and explaining its mistakes), `write` (TOML that keeps its comments) and `ages`
(the age bands). A scenario is data, not code: this layer knows nothing about simulating.
It may import only `sim.common`; the engine, runs, reports, calibration and the command
line import it.
"""
