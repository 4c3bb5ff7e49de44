"""Entry point for `python -m components`; see components.cli."""

import sys

from components.cli import main

sys.exit(main())
