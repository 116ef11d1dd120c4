"""The ``ragguard`` command line: a thin shell over :class:`ragguard.Guard`.

Exit codes: 0 success; 2 usage error; 3 the command could not run (bad input,
configuration, key or store) with one line on stderr naming the problem.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragguard.audit import AuditReport, write_html
from ragguard.audit.embedmap import DEFAULT_SAMPLE
from ragguard.config import Settings
from ragguard.errors import RagguardError
from ragguard.guard import Guard
from ragguard.records import read_paths
from ragguard.types import DropReason, TrustTier

EXIT_ERROR = 3

app = typer.Typer(
    name="ragguard",
    help="Integrity guard for the knowledge base behind RAG: seal, screen, and serve only what verifies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
quarantine_app = typer.Typer(help="Review quarantined chunks: nothing is lost until purged.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", envvar="RAGGUARD_STORE", help="Embedded Chroma store folder [default: ./.ragguard]."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--chroma-url", envvar="RAGGUARD_CHROMA_URL", help="Chroma server URL instead of a folder."),
]
CollectionOpt = Annotated[
    str | None, typer.Option("--collection", envvar="RAGGUARD_COLLECTION", help="Collection name [default: ragguard].")
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


def _setup_logging(verbose: bool) -> None:
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


def _open(
    store: Path | None,
    chroma_url: str | None,
    collection: str | None,
    key_file: Path | None,
    config: Path | None,
) -> Guard:
    overrides: dict[str, Any] = {}
    if config is not None:
        overrides["config"] = config
    if key_file is not None:
        overrides["key_file"] = key_file
    try:
        settings = Settings(**overrides)
    except RagguardError:
        raise
    except Exception as exc:  # pydantic ValidationError: keep it to one readable line
        raise _SettingsError(_first_error(exc)) from None
    return Guard.open(store, chroma_url=chroma_url, collection=collection, settings=settings)


class _SettingsError(RagguardError):
    pass


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        loc = ".".join(str(x) for x in e.get("loc", ()))
        return f"invalid setting {loc}: {e.get('msg')}"
    return str(exc)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn ragguard errors into one line on stderr and exit code 3."""
    try:
        yield
    except RagguardError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None


def _with_progress(label: str, enabled: bool, work: Callable[[Callable[[int, int], None]], T]) -> T:
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


def _screen_command(
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
        report = _with_progress(label, show, lambda p: guard.ingest(records, trust=trust, progress=p))
        verdicts = list(report.records)
    else:
        verdicts = _with_progress(label, show, lambda p: guard.scan(records, trust=trust, progress=p))
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
    flagged = [v for v in verdicts if v.findings]
    for v in flagged[:20]:
        top = v.findings[0]
        out.print(f"  {v.action.value:<10} {v.score:.2f}  {v.id}: {top.code} {top.explanation}", highlight=False)
    if len(flagged) > 20:
        out.print(f"  ... and {len(flagged) - 20} more (use --json for all)")


@app.command()
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
    _setup_logging(verbose)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
        _screen_command(paths, source, trust, as_json, guard, write=True)


@app.command()
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
    _setup_logging(verbose)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
        _screen_command(paths, source, trust, as_json, guard, write=False)


@app.command()
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
    _setup_logging(verbose)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
        result = guard.search(query, k=k)
        reasons = {d.reason for d in result.dropped}
        if not result.hits and reasons == {DropReason.UNKNOWN_KEY}:
            raise _SettingsError(
                "no stored chunk verifies with this keyring: all are sealed with keys it does not hold "
                "(wrong RAGGUARD_SIGNING_KEY or key file?)"
            )
        if as_json:
            payload = {
                "query": query,
                "hits": [
                    {
                        "id": h.id,
                        "text": h.text,
                        "source": h.source,
                        "doc_id": h.doc_id,
                        "chunk_index": h.chunk_index,
                        "distance": round(h.distance, 6),
                        "metadata": dict(h.metadata),
                    }
                    for h in result.hits
                ],
                "dropped": [{"id": d.id, "reason": d.reason.value} for d in result.dropped],
            }
            sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
            return
        table = Table("#", "distance", "source", "text", show_lines=False)
        for i, h in enumerate(result.hits, 1):
            table.add_row(str(i), f"{h.distance:.3f}", h.source, _preview(h.text, 160))
        out.print(table)
        if result.dropped:
            counts = ", ".join(f"{n} {r}" for r, n in sorted(result.drop_counts().items()))
            out.print(f"dropped by the retrieval filter: {counts}", highlight=False)


def _preview(text: str, n: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)``."""
    if value is None:
        return None
    i, sep, n = value.partition("/")
    if not sep or not i.strip().isdigit() or not n.strip().isdigit() or not 0 <= int(i) < int(n):
        raise ValueError(f"--shard must be I/N with 0 <= I < N, got {value!r}")
    return int(i), int(n)


def _print_audit(report: AuditReport) -> None:
    """Human summary of an audit report."""
    out.print(report.summary(), highlight=False)
    for note in report.baseline_notes:
        out.print(f"  note: {note}", highlight=False)
    if report.integrity_failures:
        table = Table("id", "collection", "reason", "claimed source", "text", title="integrity failures")
        for f in report.integrity_failures[:20]:
            table.add_row(f.chunk_id, f.collection, f.reason.value, f.source, _preview(f.preview, 60))
        out.print(table)
    new = report.new_findings
    if new:
        table = Table("id", "action", "rule", "score", "explanation", title="new findings")
        for n in new[:20]:
            table.add_row(n.chunk_id, n.action.value if n.action else "-", n.code, f"{n.score:.2f}", n.explanation)
        out.print(table)
    shown = max(len(report.integrity_failures), len(new))
    if shown > 20:
        out.print("  ... more in --json or --report")
    for m in report.moved:
        out.print(f"  moved {m.chunk_id} to quarantine ({m.how}, {m.reason})", highlight=False)


@app.command()
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
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Re-audit the store: verify every seal, re-scan with today's detectors, diff with a baseline.

    Exit 0 clean, 1 new findings, 2 integrity failures (2 wins), 3 could not run.
    """
    _setup_logging(verbose)
    with _errors():
        parts = _parse_shard(shard)
        if update_baseline and baseline is None:
            raise ValueError("--update-baseline needs --baseline FILE")
        guard = _open(store, chroma_url, collection, key_file, config)
        result = _with_progress(
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
            ),
        )
        if report is not None:
            write_html(result, report)
        if as_json:
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        else:
            _print_audit(result)
            if report is not None:
                out.print(f"report written to {report}", highlight=False)
    raise typer.Exit(result.exit_code)


@quarantine_app.command("list")
def quarantine_list(
    limit: Annotated[int, typer.Option(min=1, help="Entries per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Entries to skip.")] = 0,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List quarantined chunks."""
    _setup_logging(False)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
        entries = guard.quarantine_list(limit=limit, offset=offset)
        if as_json:
            for e in entries:
                sys.stdout.write(json.dumps(e.to_dict(), ensure_ascii=False) + "\n")
            return
        table = Table("id", "score", "top finding", "source", "text")
        for e in entries:
            top = e.findings[0][1] if e.findings else "-"
            table.add_row(e.id, f"{e.score:.2f}", top, e.source, _preview(e.text, 80))
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
    """Show one quarantined chunk with its findings (always JSON)."""
    _setup_logging(False)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
        sys.stdout.write(json.dumps(guard.quarantine_get(chunk_id).to_dict(), ensure_ascii=False, indent=2) + "\n")


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
    _setup_logging(False)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
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
    _setup_logging(False)
    with _errors():
        guard = _open(store, chroma_url, collection, key_file, config)
        guard.quarantine_get(chunk_id)
        if not yes and not typer.confirm(f"permanently delete quarantined chunk {chunk_id}?"):
            raise typer.Exit(1)
        guard.purge(chunk_id)
        out.print(f"purged {chunk_id}")


def main() -> None:
    """Console-script entry point."""
    app()
