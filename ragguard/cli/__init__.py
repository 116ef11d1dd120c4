"""The ``ragguard`` command line: a thin shell over :class:`ragguard.Guard`.

Exit codes: 0 success; 3 the command could not run (a usage error, bad input,
configuration, key or store) with a line on stderr naming the problem.
``ragguard audit`` adds its own: 0 clean, 1 new findings, 2 integrity failures.
Usage errors exit 3, not click's usual 2, so that a mistyped option in a nightly
audit job can never read as an integrity failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

from ragguard.cli import audit, demo, screen, serve
from ragguard.cli.common import EXIT_ERROR
from ragguard.cli.quarantine import quarantine_app

try:  # typer vendors click since 0.2x; before, it used click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment]

__all__ = ["EXIT_ERROR", "app", "main"]


class _CommandLineError(UsageError):
    """A usage error that exits with ``EXIT_ERROR`` (click's standalone handler uses the class's code)."""

    exit_code = EXIT_ERROR


@contextmanager
def _usage_exits_as_error() -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError as exc:
        # Bare ``ragguard`` or ``ragguard quarantine``: the help, as click shows it, but exit 3
        # like any usage error; click's 2 is the audit's "integrity failures".
        exc.exit_code = EXIT_ERROR
        raise
    except _CommandLineError:
        raise  # already converted
    except UsageError as exc:
        raise _CommandLineError(exc.format_message(), ctx=exc.ctx) from None


class _Cli(TyperGroup):
    """The top-level group: a parsing error anywhere below it exits with ``EXIT_ERROR``."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _usage_exits_as_error():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _usage_exits_as_error():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Cli,
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
