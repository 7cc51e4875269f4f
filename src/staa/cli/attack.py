"""``staa attack``: command group (commands are defined below)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
