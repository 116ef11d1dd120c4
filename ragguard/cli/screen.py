"""``ragguard ingest``, ``scan`` and ``search``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ragguard.cli.common import (
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
    open_guard,
    out,
    preview,
    setup_logging,
    with_progress,
)
from ragguard.guard import Guard
from ragguard.records import InputRecord, read_paths
from ragguard.types import DropReason, RecordVerdict, TrustTier


def screen_command(
    paths: list[Path],
    source: str | None,
    trust: TrustTier | None,
    as_json: bool,
    guard: Guard,
    *,
    write: bool,
) -> None:
    records = read_paths(paths, source)
    label = "screening and sealing" if write else "screening"
    show = err.is_terminal and not as_json
    if write:
        report = with_progress(label, show, lambda p: guard.ingest(records, trust=trust, progress=p))
        verdicts = list(report.records)
    else:
        verdicts = with_progress(label, show, lambda p: guard.scan(records, trust=trust, progress=p))
    if as_json:
        for v in verdicts:
            sys.stdout.write(json.dumps(v.to_dict(), ensure_ascii=False) + "\n")
        return
    by_action = {"allow": 0, "quarantine": 0, "reject": 0}
    for v in verdicts:
        by_action[v.action.value] += 1
    n_chunks = sum(len(v.chunks) for v in verdicts)
    out.print(
        f"{'ingested' if write else 'scanned'} {len(verdicts)} records ({n_chunks} chunks): "
        f"{by_action['allow']} allowed, {by_action['quarantine']} quarantined, {by_action['reject']} rejected",
        highlight=False,
    )
    if write:
        c = report.counts()
        out.print(
            f"chunks written: {c['allowed']} served, {c['quarantined']} quarantined; "
            f"{c['rejected']} rejected; {c['unchanged']} already stored",
            highlight=False,
        )
    _print_thresholds(verdicts, records, guard, trust)
    # Records with the same outcome and top finding (a blocked source's every record) share one line.
    flagged: dict[tuple[str, float, str, str], list[str]] = {}
    for v in verdicts:
        if v.findings:
            top = v.findings[0]
            flagged.setdefault((v.action.value, round(v.score, 2), top.code, top.explanation), []).append(v.id)
    for (action, score, code, why), ids in list(flagged.items())[:20]:
        who = ids[0] if len(ids) == 1 else f"{len(ids)} records ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})"
        out.print(f"  {action:<10} {score:.2f}  {who}: {code} {why}", highlight=False)
    if len(flagged) > 20:
        out.print(f"  ... and {len(flagged) - 20} more (use --json for all)")


def _print_thresholds(
    verdicts: Sequence[RecordVerdict], records: Sequence[InputRecord], guard: Guard, trust: TrustTier | None
) -> None:
    """What the scores were held against: each trust tier and its thresholds once, with what set them."""
    applied: dict[tuple[str, str], int] = {}
    for v, rec in zip(verdicts, records, strict=True):
        if v.applied is None:
            continue
        tier, q, r = v.applied
        rule = "always rejected" if q is None or r is None else f"quarantined from {q:.2f}, rejected from {r:.2f}"
        why = guard.settings.trust_decision(rec.source, trust)[1]
        why = {"requested": "--trust", "default": "the default"}.get(why, why)
        if trust is not None and tier is not trust:
            why += f", lowered from {trust.value}"
        key = (f"{tier.value} ({why})", rule)
        applied[key] = applied.get(key, 0) + 1
    for (label, rule), n in sorted(applied.items()):
        out.print(f"  {label}, {n} record{'' if n == 1 else 's'}: {rule}", highlight=False)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help=".jsonl, .txt or .md files, or folders of them.")],
    source: Annotated[str | None, typer.Option(help="Source URI for every record (overrides the files').")] = None,
    trust: Annotated[TrustTier | None, typer.Option(help="Requested trust tier (config can lower it).")] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Screen, seal and store records; prints counts of allowed / quarantined / rejected."""
    setup_logging(verbose)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        screen_command(paths, source, trust, as_json, guard, write=True)


def scan(
    paths: Annotated[list[Path], typer.Argument(help=".jsonl, .txt or .md files, or folders of them.")],
    source: Annotated[str | None, typer.Option(help="Source URI for every record.")] = None,
    trust: Annotated[TrustTier | None, typer.Option(help="Trust tier to screen as.")] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Dry run: screen against the current store and write nothing."""
    setup_logging(verbose)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        screen_command(paths, source, trust, as_json, guard, write=False)


def search(
    query: Annotated[str, typer.Argument(help="The question to retrieve context for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Number of results.")] = 5,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Retrieve through the filter: only sealed, unaltered, allowed chunks come back."""
    setup_logging(verbose)
    with errors():
        guard = open_guard(store, chroma_url, collection, key_file, config)
        result = guard.search(query, k=k)
        reasons = {d.reason for d in result.dropped}
        if not result.hits and reasons == {DropReason.UNKNOWN_KEY}:
            raise SettingsError(
                "no stored chunk verifies with this keyring: all are sealed with keys it does not hold "
                "(wrong RAGGUARD_SIGNING_KEY or key file?)"
            )
        if as_json:
            payload = result.to_dict(query)
            sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
            return
        table = Table("#", "distance", "source", "text", show_lines=False)
        for i, h in enumerate(result.hits, 1):
            table.add_row(str(i), f"{h.distance:.3f}", h.source, preview(h.text, 160))
        out.print(table)
        if result.dropped:
            counts = ", ".join(f"{n} {r}" for r, n in sorted(result.drop_counts().items()))
            out.print(f"dropped by the retrieval filter: {counts}", highlight=False)
