"""`python -m app ...`: the command line (app/cli.py)."""

from app.cli import main

raise SystemExit(main())
