"""`python -m nndoctor` runs the command line."""

import sys

from nndoctor.cli import run

sys.exit(run())
