"""Results written for people: files, tables, charts and words.

`run` (a run's folder), `comparison`, `comparison_words`, `comparison_charts`,
`workbook` and `html` (a comparison of options), `sweep`, `calibration` and `backtest`
(their reports), `calibrated` (a calibrated scenario written with its report, for the
command line and the web app), `actuals` (the council's published figures beside a
scenario, set against a run) and `presentation` (how numbers, colours and axes look
everywhere). It may import every layer below it (`sim.runs`, `sim.engine`,
`sim.scenario`, `sim.common`) and may read `sim.calibration`, which never imports it;
only `sim.app` and `sim.cli` import it.
"""
