"""``python -m ems``: see :mod:`ems.cli`."""

import sys

from ems.cli import main

sys.exit(main())
