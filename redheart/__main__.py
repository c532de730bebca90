"""`python -m redheart` runs the CLI (torchrun needs a module to launch)."""

import sys

from redheart.cli import main

sys.exit(main())
