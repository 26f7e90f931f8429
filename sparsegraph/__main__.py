"""`python -m sparsegraph` runs the command-line interface."""

import sys

from sparsegraph.cli import main

sys.exit(main())
