"""``ragguard quarantine list|show|release|purge``: the review workflow."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from ragguard.cli.common import (
    TABLE_MIN_WIDTH,
    CollectionOpt,
    ConfigOpt,
    JsonOpt,
    KeyFileOpt,
    StoreOpt,
    UrlOpt,
    errors,
    id_column,
    open_guard,
    out,
    preview,
    print_entry,
    setup_logging,
)
from ragguard.stores.base import MAX_PAGE

quarantine_app = typer.Typer(help="Review quarantined chunks: nothing is lost until purged.", no_args_is_help=True)


@quarantine_app.command("list")
def quarantine_list(
    limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE, help="Entries per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, max=MAX_PAGE, help="Entries to skip.")] = 0,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List quarantined chunks."""
    setup_logging(False)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        entries = guard.quarantine_list(limit=limit, offset=offset)
        if as_json:
            for e in entries:
                sys.stdout.write(json.dumps(e.to_dict(), ensure_ascii=False) + "\n")
            return
        tops = [e.findings[0][1] if e.findings else "-" for e in entries]
        if out.width < TABLE_MIN_WIDTH:
            for e, top in zip(entries, tops, strict=True):
                print_entry(f"{e.id}  score {e.score:.2f}  {top}", e.source, e.text)
        else:
            table = Table(id_column(e.id for e in entries), "score", "top finding", "source", "text")
            for e, top in zip(entries, tops, strict=True):
                table.add_row(e.id, f"{e.score:.2f}", top, e.source, preview(e.text, 80))
            out.print(table)
        out.print(f"{len(entries)} shown (offset {offset})")


@quarantine_app.command("show")
def quarantine_show(
    chunk_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show one quarantined chunk with its findings (always JSON).

    Under "rescan", the chunk screened again today (nothing written): the verdict,
    each finding's explanation and span, and the sealed codes not found again.
    """
    setup_logging(False)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        entry = guard.quarantine_get(chunk_id, rescan=True)
        sys.stdout.write(json.dumps(entry.to_dict(), ensure_ascii=False, indent=2) + "\n")


@quarantine_app.command("release")
def quarantine_release(
    chunk_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Re-seal a quarantined chunk as allowed and serve it."""
    setup_logging(False)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        guard.release(chunk_id)
        out.print(f"released {chunk_id}: re-sealed and served")


@quarantine_app.command("purge")
def quarantine_purge(
    chunk_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete a quarantined chunk for good."""
    setup_logging(False)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        guard.quarantine_get(chunk_id)  # exists? (raises NotFoundError)
        if not yes and not typer.confirm(f"permanently delete quarantined chunk {chunk_id}?"):
            out.print(f"not purged: {chunk_id} stays in quarantine")
            raise typer.Exit(1)
        guard.purge(chunk_id)
        out.print(f"purged {chunk_id}")
