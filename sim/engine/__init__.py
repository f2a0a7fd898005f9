"""The simulation of one replication: the SimPy model and everything the event loop runs.

`model` builds a replication and runs it; the mechanisms a reader recognises are modules
of their own (arrivals, supply, placing and search, exits, month-end metrics), over the
shared state, the provision at run time (`provision`), the matching rules (`matching`),
competing hazards (`hazards`), fast draws (`draws`), the calendar and the clock. A new
mechanism is a new module here. It may import `sim.scenario` and `sim.common`, never
`sim.runs`, `sim.reports`, `sim.calibration` or `sim.cli`: the model does not know how
it is run many times or how its results are written.
"""
