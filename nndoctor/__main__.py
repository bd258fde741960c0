"""`python -m nndoctor` runs the command line."""

import sys

from nndoctor.cli import main

sys.exit(main())
