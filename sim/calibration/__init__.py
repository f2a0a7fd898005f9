"""Learning a scenario from an LA's SSDA903 return, and checking it against what happened.

`ssda903/` reads and checks the return and builds placements and periods of care;
`survival` turns censored spells into rates; `fit` calibrates a scenario from them
(`packaged` finds the template and placement map shipped in `data/`); `backtest`
forecasts from a past date and scores the forecast; `synth903` writes a simulation's
children as 903 tables. It may import `sim.runs`, `sim.engine`, `sim.scenario` and
`sim.common`. It sits beside `sim.reports`: reports may read calibration (to write a
calibration or backtest report), never the other way round, and neither imports `sim.cli`.
"""
