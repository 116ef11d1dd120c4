"""``ragguard demo``: the end-to-end attack-and-defence demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ragguard.cli.common import SettingsError, VerboseOpt, errors, out, preview, setup_logging

_STYLE = {"clean": "green", "poison": "bold red", "injection": "bold red", "planted": "bold red", "swapped": "bold red"}


def demo(
    data: Annotated[
        Path | None, typer.Option(help=r"The demo data folder \[default: demo/data of this checkout].")
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help=(
                r"Keep the demo stores here \[default: a temporary folder]: DIR/guarded (with its key) opens "
                "with the other commands' --store; a re-run replaces them. A folder holding anything else is refused."
            ),
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Build a knowledge base, attack it four ways, and compare an unguarded retriever with the guarded one."""
    from ragguard.demo import QUESTION, default_data_dir, run

    setup_logging(verbose)
    with errors():
        folder = data or default_data_dir()
        if folder is None or not (folder / "wiki_sample.jsonl").exists():
            raise SettingsError("demo data not found: pass --data DIR (the repository's demo/data folder)")
        result = run(folder, store, say=lambda line: out.print(line, highlight=False))
        out.print(Text.assemble("\nTop 5 for the question: ", (f"{QUESTION}?", "bold"), "\n"))
        for title, rows in (("unguarded retriever (plain Chroma)", result.unguarded), ("ragguard", result.guarded)):
            table = Table("#", "origin", "passage", title=title, title_justify="left")
            for i, r in enumerate(rows, 1):
                table.add_row(str(i), Text(r.label, style=_STYLE.get(r.label, "red")), preview(r.text, 110))
            out.print(table)
        bad_plain, bad_guarded = result.attacker_rows
        out.print(
            f"attacker-controlled results: unguarded {bad_plain} of {len(result.unguarded)}, "
            f"guarded {bad_guarded} of {len(result.guarded)}",
            highlight=False,
        )
        a = result.audit
        out.print("\nRe-audit of the guarded store:", highlight=False)
        out.print("  " + a.summary(), highlight=False)
        for reason, n in sorted(a.by_reason().items()):
            out.print(f"  integrity failure: {reason} x{n}", highlight=False)
        for f in a.integrity_failures:
            out.print(f"    {f.chunk_id} ({f.collection}): {f.reason.value}  {f.preview[:70]!r}", highlight=False)
