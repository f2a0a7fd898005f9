"""The bottom layer: what every other layer may use, about nothing in particular.

User-facing errors (`errors`), stopping cleanly on Ctrl-C or SIGTERM (`interrupt`), the
files a command has read (`inputs`), writing outputs whole or not at all (`outputs`),
making users' text safe in spreadsheets and markdown (`safe_text`), small-number
suppression rules (`suppression`) and which build is running (`build`). It imports
nothing from the other layers (only `sim.__version__` from the root); every layer may
import it.
"""
