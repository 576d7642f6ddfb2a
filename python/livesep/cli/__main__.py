"""``python -m livesep.cli``: the ``livesep`` command."""

from __future__ import annotations

import sys

from livesep.cli.main import main

sys.exit(main())
