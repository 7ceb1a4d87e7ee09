"""Allow ``python -m dialerd``."""

from dialerd.cli import main

# Guarded: processes started with "spawn" (the import's number parsers) import this module.
if __name__ == "__main__":
    raise SystemExit(main())
