"""Allow ``python -m dialerd``."""

from dialerd.cli import main

raise SystemExit(main())
