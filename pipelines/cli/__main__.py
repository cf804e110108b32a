"""``python -m pipelines.cli``: the same as ``orostat``."""

from pipelines.cli import main

raise SystemExit(main())
