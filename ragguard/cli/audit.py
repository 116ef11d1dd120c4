"""``ragguard audit`` and ``ragguard adopt``: the audit gate."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ragguard.audit import EXIT_INTEGRITY, AuditReport, write_html
from ragguard.audit.embedmap import DEFAULT_SAMPLE
from ragguard.cli.common import (
    EXIT_ERROR,
    TABLE_MIN_WIDTH,
    CollectionOpt,
    ConfigOpt,
    JsonOpt,
    KeyFileOpt,
    SettingsError,
    StoreOpt,
    UrlOpt,
    VerboseOpt,
    err,
    errors,
    id_column,
    open_guard,
    out,
    preview,
    print_entry,
    setup_logging,
    with_progress,
)
from ragguard.types import TrustTier


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)``."""
    if value is None:
        return None
    i, sep, n = value.partition("/")
    if not sep or not i.strip().isdigit() or not n.strip().isdigit() or not 0 <= int(i) < int(n):
        raise ValueError(f"--shard must be I/N with 0 <= I < N, got {value!r}")
    return int(i), int(n)


def print_audit(report: AuditReport) -> None:
    """Human summary of an audit report."""
    out.print(report.summary(), highlight=False)
    for note in report.baseline_notes:
        out.print(f"  note: {note}", highlight=False)
    if report.integrity_failures:
        failures = report.integrity_failures[:20]
        if out.width < TABLE_MIN_WIDTH:
            out.print("integrity failures:", highlight=False)
            for f in failures:
                print_entry(f"{f.chunk_id}  {f.collection}  {f.reason.value}", f.source or "-", f.preview)
        else:
            table = Table(
                id_column(f.chunk_id for f in failures), "collection", "reason", "claimed source", "text",
                title="integrity failures",
            )  # fmt: skip
            for f in failures:
                table.add_row(f.chunk_id, f.collection, f.reason.value, f.source, preview(f.preview, 60))
            out.print(table)
    new = report.new_findings
    if new and out.width < TABLE_MIN_WIDTH:  # a cron log or a narrow terminal: one entry per finding
        out.print("new findings:", highlight=False)
        for n in new[:20]:
            action = n.action.value if n.action else "-"
            print_entry(f"{n.chunk_id}  {action}  {n.code}  {n.score:.2f}", n.explanation)
    elif new:
        table = Table(
            id_column(n.chunk_id for n in new[:20]), "action", "rule", "score", "explanation", title="new findings"
        )
        for n in new[:20]:
            table.add_row(n.chunk_id, n.action.value if n.action else "-", n.code, f"{n.score:.2f}", n.explanation)
        out.print(table)
    shown = max(len(report.integrity_failures), len(new))
    if shown > 20:
        out.print("  ... more in --json or --report")
    for m in report.moved:
        out.print(f"  moved {m.chunk_id} to quarantine ({m.how}, {m.reason})", highlight=False)


def check_writable(path: Path, option: str) -> None:
    """Refuse an output path that cannot be written, before the audit (which may move chunks) runs.

    Raises:
        SettingsError: Naming the option, the path and why.
    """
    if path.is_dir():
        raise SettingsError(f"{option} {path} is a folder; name a file in it")
    parent = path.parent
    while not parent.exists():  # missing folders are created when the file is written
        parent = parent.parent
    if not parent.is_dir():
        raise SettingsError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SettingsError(f"{option} {path}: not writable")


def audit(
    reembed: Annotated[
        bool, typer.Option("--reembed", help="Re-embed every chunk; flag vectors that do not match their text.")
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline JSON to compare with (missing: first run).")
    ] = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Write today's findings to --baseline.")
    ] = False,
    quarantine: Annotated[
        bool, typer.Option("--quarantine", help="Move offenders to quarantine (never deletes).")
    ] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")] = None,
    shard: Annotated[
        str | None, typer.Option("--shard", help="Audit shard I/N only (chunk ids hash to I mod N).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Processes for the text re-scan; 0 (default): one per CPU (up to 8) on stores of 20,000+ chunks.",
        ),
    ] = 0,
    full_rescan: Annotated[
        bool,
        typer.Option(
            "--full-rescan",
            help=(
                "Scan every text again. By default a text whose seal shows today's text rules found nothing "
                "in it is skipped (it would find nothing again); use this to check that, or after editing a "
                "custom detector that has no fingerprint."
            ),
        ),
    ] = False,
    restamp: Annotated[
        bool,
        typer.Option(
            "--restamp",
            help=(
                "After an upgrade or rule change: re-seal the chunks found clean under today's text rules, so "
                "later audits skip their text scan. Writes to the store (run it while nothing else writes) and "
                "needs a signing key; chunks sealed by an older key are left (restamp_left)."
            ),
        ),
    ] = False,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Re-audit the store: verify every seal, re-scan with today's detectors, diff with a baseline.

    Exit 0 clean, 1 new findings, 2 integrity failures (2 wins), 3 could not run (also when the
    report could not be written at the end, unless there are integrity failures: 2 still wins).
    """
    setup_logging(verbose)
    unwritten: str | None = None
    with errors():
        parts = parse_shard(shard)
        if update_baseline and baseline is None:
            raise ValueError("--update-baseline needs --baseline FILE")
        if report is not None:
            check_writable(report, "--report")
        if update_baseline and baseline is not None:
            check_writable(baseline, "--baseline")
        guard = open_guard(store, chroma_url, collection, key_file, config)
        result = with_progress(
            "auditing",
            err.is_terminal,
            lambda p: guard.audit(
                reembed=reembed,
                shard=parts,
                baseline=baseline,
                update_baseline=update_baseline,
                quarantine=quarantine,
                progress=p,
                map_sample=DEFAULT_SAMPLE if report is not None else 0,
                workers=workers or None,
                full_rescan=full_rescan,
                restamp=restamp,
            ),
        )
        if report is not None:
            try:
                write_html(result, report)
            except OSError as exc:  # the disk filled up, or the folder changed since the check
                unwritten = f"the audit ran, but its report could not be written to {report}: {exc}"
        if as_json:
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        else:
            print_audit(result)
            if report is not None and unwritten is None:
                out.print(f"report written to {report}", highlight=False)
    if unwritten is not None:
        err.print(f"error: {unwritten}", highlight=False, markup=False)
        # Tampering must never read as a crash to the job that runs this: 2 still wins.
        raise typer.Exit(EXIT_INTEGRITY if result.exit_code == EXIT_INTEGRITY else EXIT_ERROR)
    raise typer.Exit(result.exit_code)


def adopt(
    from_collection: Annotated[
        str, typer.Option("--from-collection", help="The unguarded collection to bring under the guard.")
    ],
    trust: Annotated[TrustTier | None, typer.Option(help="Trust tier for its documents (config can lower it).")] = None,
    source: Annotated[str | None, typer.Option(help="Source URI for documents whose metadata names none.")] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Screen an unguarded Chroma collection (left untouched) and seal its clean chunks into the guard.

    Every document is re-embedded with the guard's model: foreign vectors are never trusted.
    """
    setup_logging(verbose)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        result = with_progress(
            "adopting",
            err.is_terminal and not as_json,
            lambda p: guard.adopt(from_collection, trust=trust, source=source, progress=p),
        )
        if as_json:
            payload = {
                "from_collection": from_collection,
                **result.counts(),
                "flagged": [v.to_dict() for v in result.flagged],
                "flagged_not_listed": result.flagged_not_listed,
            }
            sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
            return
        c = result.counts()
        out.print(
            f"adopted {c['read']} documents from {from_collection!r}: {c['allowed']} allowed, "
            f"{c['quarantined']} quarantined, {c['rejected']} rejected, {c['unchanged']} already guarded, "
            f"{c['skipped']} skipped",
            highlight=False,
        )
        if result.flagged:
            table = Table(id_column(str(v.id) for v in result.flagged[:20]), "action", "score", "why",
                          title="held back (first 20; all in --json)")  # fmt: skip
            for v in result.flagged[:20]:
                why = v.findings[0].explanation if v.findings else "-"
                table.add_row(str(v.id), v.action.value, f"{v.score:.2f}", why)
            out.print(table)


def reseal(
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Re-seal layout-1 chunks (20 flat rg_ keys) in layout 2, in place, with the active key.

    Only chunks whose seal verifies and that the active key sealed are re-signed; the rest
    are left untouched (those another key sealed still verify, and keep that key's seal so
    revoking it still stops them; re-seal them with that key active). Ids, texts, vectors
    and caller metadata do not change. Safe to interrupt and run again; run it while
    nothing else writes to the store. Exit 0 when every chunk is current or was left only
    for its key, 2 when some were left because their seal does not verify (the audit reports them).
    """
    setup_logging(verbose)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        result = with_progress("re-sealing", err.is_terminal and not as_json, lambda p: guard.reseal(progress=p))
        if as_json:
            sys.stdout.write(json.dumps({**result.counts(), "left_by_reason": dict(result.left)}) + "\n")
        else:
            c = result.counts()
            why = ", ".join(f"{n} {reason}" for reason, n in sorted(result.left.items()))
            out.print(
                f"read {c['read']} chunks: {c['resealed']} re-sealed, {c['current']} already current, "
                f"{c['left']} left as they are"
                + (f" ({why})" if why else "")
                + (f"; {c['held_by_audit']} held in quarantine by an earlier audit" if c["held_by_audit"] else ""),
                highlight=False,
            )
    # Chunks left for their key still verify; any other reason is a seal the audit will report.
    raise typer.Exit(EXIT_INTEGRITY if set(result.left) - {"other_key"} else 0)
