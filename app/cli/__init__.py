"""The command line: `python -m app ...` or `forecast-service ...`.

commands.py   the commands and what each calls (the client, or the server for `serve`)
csv_input.py  a series from a column of a CSV file
output.py     tables, CSV and JSON, a progress bar
"""

from app.cli.commands import main

__all__ = ["main"]
