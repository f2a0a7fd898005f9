"""`python -m sim.cli ...`: the same as the `sufficiency` command."""

import sys

from . import main

sys.exit(main())
