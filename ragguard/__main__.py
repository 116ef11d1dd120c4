"""``python -m ragguard``."""

from ragguard.cli import main

main()
