"""`python -m app ...`: the command line (app/cli/)."""

from app.cli import main

raise SystemExit(main())
