"""The local web app (`sufficiency serve`): scenarios' levers as a form, comparisons run in
the background, results to take away.

A top layer beside the command line: it may import every layer below (reports, runs,
scenario, common) and only `sim.cli` imports it. `server` builds the FastAPI app,
`jobs` runs comparisons in threads, `levers` says which scenario keys the form shows,
`options` makes the form's columns into scenarios (and their files),
`uploads` takes a scenario file or an SSDA903 export to start from: `multipart` reads an
upload within its limits, `folders` writes into the chosen folder, `export` checks and
unpacks the 903 files and `calibrations` calibrates from them in a thread.
Needs the `app` extra (`pip install "sufficiency[app]"`).
"""
