"""The ``ragguard`` command line: a thin shell over :class:`ragguard.Guard`.

Exit codes: 0 success; 2 usage error; 3 the command could not run (bad input,
configuration, key or store) with one line on stderr naming the problem.
``ragguard audit`` adds its own: 0 clean, 1 new findings, 2 integrity failures.
"""

from __future__ import annotations

import typer

from ragguard.cli import audit, demo, screen, serve
from ragguard.cli.common import EXIT_ERROR
from ragguard.cli.quarantine import quarantine_app

__all__ = ["EXIT_ERROR", "app", "main"]

app = typer.Typer(
    name="ragguard",
    help="Integrity guard for the knowledge base behind RAG: seal, screen, and serve only what verifies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(screen.ingest)
app.command()(screen.scan)
app.command()(screen.search)
app.command()(audit.audit)
app.command()(audit.adopt)
app.command()(audit.reseal)
app.add_typer(quarantine_app, name="quarantine")
app.command()(serve.serve)
app.command()(demo.demo)


def main() -> None:
    """Console-script entry point."""
    app()
