"""Shared plumbing of the ``ragguard`` commands: options, opening the guard, errors, progress.

Exit codes: 0 success; 3 the command could not run (a usage error, bad input,
configuration, key or store) with one line on stderr naming the problem.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from ragguard.config import Settings, validation_message
from ragguard.errors import RagguardError
from ragguard.guard import Guard

EXIT_ERROR = 3

# No markup: ids, sources, texts and error messages come from the store and the user, and a
# "[/]" in any of them would be read as a closing tag (a MarkupError) or a style.
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", envvar="RAGGUARD_STORE", help=r"Embedded Chroma store folder \[default: ./.ragguard]."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--chroma-url", envvar="RAGGUARD_CHROMA_URL", help="Chroma server URL instead of a folder."),
]
CollectionOpt = Annotated[
    str | None,
    typer.Option("--collection", envvar="RAGGUARD_COLLECTION", help=r"Collection name \[default: ragguard]."),
]
KeyFileOpt = Annotated[
    Path | None, typer.Option("--key-file", envvar="RAGGUARD_KEY_FILE", help="Keyring file (JSON, mode 0600).")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", envvar="RAGGUARD_CONFIG", help="TOML settings file (sources, trust).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]

T = TypeVar("T")


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False)],
        force=True,
    )
    # Retrieval drops are counted in the output; per-chunk lines only with -v.
    logging.getLogger("ragguard.retrieval").setLevel(logging.INFO if verbose else logging.ERROR)
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def core_settings(
    store: Path | None,
    chroma_url: str | None,
    collection: str | None,
    key_file: Path | None,
    config: Path | None,
) -> Settings:
    """Settings from the environment and config file, with the command's options on top."""
    if store is not None and chroma_url is not None:
        raise SettingsError("give --store (RAGGUARD_STORE) or --chroma-url (RAGGUARD_CHROMA_URL), not both")
    overrides: dict[str, Any] = {}
    for key, value in (
        ("config", config),
        ("key_file", key_file),
        ("store", store),
        ("chroma_url", chroma_url),
        ("collection", collection),
    ):
        if value is not None:
            overrides[key] = value
    try:
        return Settings(**overrides)
    except RagguardError:
        raise
    except Exception as exc:  # pydantic ValidationError: keep it to one readable line
        named = config or os.environ.get("RAGGUARD_CONFIG")
        raise SettingsError(validation_message(exc, str(named) if named else None)) from None


def open_guard(
    store: Path | None,
    chroma_url: str | None,
    collection: str | None,
    key_file: Path | None,
    config: Path | None,
) -> Guard:
    """A guard over the store the options name (nothing is opened or loaded yet)."""
    return Guard.open(settings=core_settings(store, chroma_url, collection, key_file, config))


class SettingsError(RagguardError):
    """A setting or option is wrong (reported in one line, exit 3)."""


@contextmanager
def errors() -> Iterator[None]:
    """Turn ragguard errors, bad values and failed file operations into one line on stderr and exit code 3."""
    try:
        yield
    except (RagguardError, ValueError, OSError) as exc:
        err.print(Text.assemble(("error:", "bold red"), f" {exc}"), highlight=False)
        raise typer.Exit(EXIT_ERROR) from None


def with_progress(label: str, enabled: bool, work: Callable[[Callable[[int, int], None]], T]) -> T:
    if not enabled:
        return work(lambda done, total: None)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return work(update)


def id_column(ids: Iterable[str]) -> Column:
    """A table column for chunk ids, never cut: they are copied into ``quarantine show`` and friends."""
    return Column("id", no_wrap=True, min_width=max((len(i) for i in ids), default=2))


#: Narrower terminals get one entry per few lines instead of a table: beside an id column
#: that is never cut (35 characters), the text columns would be a word wide.
TABLE_MIN_WIDTH = 120


def print_entry(head: str, *details: str) -> None:
    """One entry for a narrow terminal: ``head`` (the id first, whole), then indented one-line details."""
    out.print(head, highlight=False)
    for d in details:
        out.print("    " + preview(d, max(20, out.width - 4)), highlight=False)


def preview(text: str, n: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"
