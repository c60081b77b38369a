"""``python -m workbench.cli``: the same as ``kimi-wb``."""

import sys

from workbench.cli import main

sys.exit(main())
