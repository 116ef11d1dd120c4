"""False positives on documentation this machine already has, outside the dev set.

    python bench/local_docs.py [--pipeline] [--show N] [--only readmes|pydoc|system]

The dev set's clean families are the texts the rules were tuned against. This
is a check on text nobody tuned on: every long description (README) of the
packages installed beside ragguard, the standard library's ``pydoc`` text, and
the READMEs under ``/usr/share/doc``. Each document is cut with ragguard's own
chunker and screened as untrusted; the script prints, per corpus, how many
chunks the default policy would quarantine and the rule codes behind them, then
the flagged chunks themselves so a reader can judge each one (a prompt-injection
scanner's README quoting "ignore previous instructions" is flagged on purpose).

By default only the text detectors run (seconds). ``--pipeline`` screens through
:meth:`Guard.scan` with every default detector, which embeds every chunk with the
shipped model (minutes).

The corpora depend on what is installed, so the script prints what it read.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import email.parser
import glob
import importlib
import io
import pydoc
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragguard import Guard, Settings  # noqa: E402
from ragguard.detectors.base import detect_texts, split_detectors  # noqa: E402
from ragguard.detectors.registry import DEFAULT_DETECTORS, create  # noqa: E402
from ragguard.policy import Policy, combine  # noqa: E402
from ragguard.records import Chunker, InputRecord  # noqa: E402
from ragguard.types import TrustTier  # noqa: E402

SOURCE = "file://localhost/"
# Importing these opens windows, prints or has side effects.
_SKIP_MODULES = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"}


def package_readmes() -> list[tuple[str, str]]:
    """The long description of every installed distribution (its PyPI page)."""
    out = []
    for meta in sorted(glob.glob(str(Path(sysconfig.get_paths()["purelib"]) / "*.dist-info" / "METADATA"))):
        with open(meta, encoding="utf-8", errors="replace") as fh:
            body = email.parser.Parser().parse(fh).get_payload()
        if isinstance(body, str) and len(body) > 200:
            out.append((Path(meta).parent.name, body))
    return out


def stdlib_pydoc() -> list[tuple[str, str]]:
    """``pydoc``'s plain-text page of each public standard-library module."""
    out = []
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in _SKIP_MODULES:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                module = importlib.import_module(name)
                page = pydoc.render_doc(module, renderer=pydoc.plaintext)
        except Exception:  # noqa: BLE001 - platform modules that do not import here
            continue
        out.append((name, page[:60_000]))
    return out


def system_docs() -> list[tuple[str, str]]:
    """Plain-text READMEs and Markdown files of the system's packages."""
    out = []
    for path in sorted(glob.glob("/usr/share/doc/*/README*") + glob.glob("/usr/share/doc/*/*.md")):
        if path.endswith(".gz"):
            continue
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(text) > 200:
            out.append((path, text))
    return out


def chunks_of(docs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(document name, chunk text) for every chunk of every document, cut as ingest cuts them."""
    settings = Settings()
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    return [(name, c.text) for name, text in docs for c in chunker.split(InputRecord(name, text, SOURCE))]


def scores_text_only(texts: list[str]) -> list[tuple[float, list[str]]]:
    text_detectors, _ = split_detectors([create(n) for n in DEFAULT_DETECTORS])
    per = detect_texts(text_detectors, texts)
    out = []
    for i in range(len(texts)):
        found = [f for d in per for f in d[i]]
        out.append((combine(found), sorted({f.code for f in found})))
    return out


def scores_pipeline(docs: list[tuple[str, str]], tmp: Path) -> list[tuple[float, list[str]]]:
    """Per chunk, in :func:`chunks_of` order: each document is one record, cut by the guard itself."""
    guard = Guard.open(tmp / "store")
    verdicts = guard.scan([{"id": name, "text": text} for name, text in docs], source=SOURCE, trust="untrusted")
    return [(v.score, sorted({f.code for f in v.findings})) for record in verdicts for v in record.chunks]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pipeline", action="store_true", help="screen with every default detector (embeds each chunk)")
    ap.add_argument("--show", type=int, default=20, metavar="N", help="print up to N flagged chunks per corpus")
    ap.add_argument("--only", choices=("readmes", "pydoc", "system"), help="screen one corpus")
    args = ap.parse_args()
    threshold = Policy().thresholds(TrustTier.UNTRUSTED).quarantine
    readers = {
        "readmes": ("installed package READMEs", package_readmes),
        "pydoc": ("standard library pydoc", stdlib_pydoc),
        "system": ("/usr/share/doc READMEs", system_docs),
    }
    corpora = {title: read() for key, (title, read) in readers.items() if args.only in (None, key)}
    mode = "every default detector (Guard.scan)" if args.pipeline else "text detectors only"
    print(f"\n### Documentation outside the dev set: chunks the default policy would quarantine ({mode})\n")
    print("| corpus | documents | chunks | flagged | rate | rule codes |")
    print("|---|---:|---:|---:|---:|---|")
    flagged_all: dict[str, list[tuple[str, float, list[str], str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, docs in corpora.items():
            pieces = chunks_of(docs)
            texts = [t for _, t in pieces]
            t0 = time.perf_counter()
            scored = (
                scores_pipeline(docs, Path(tmp) / str(len(flagged_all))) if args.pipeline else scores_text_only(texts)
            )
            seconds = time.perf_counter() - t0
            hits = [(doc, s, codes, t) for (doc, t), (s, codes) in zip(pieces, scored, strict=True) if s >= threshold]
            flagged_all[name] = hits
            codes = collections.Counter(c for _, _, cs, _ in hits for c in cs)
            rate = len(hits) / len(pieces) if pieces else 0.0
            print(
                f"| {name} | {len(docs):,} | {len(pieces):,} | {len(hits)} | {rate:.4f} | "
                f"{', '.join(f'{c} x{n}' for c, n in codes.most_common()) or '-'} |",
                flush=True,
            )
            print(f"<!-- {name}: screened in {seconds:.1f}s -->", file=sys.stderr)
    for name, hits in flagged_all.items():
        for doc, score, codes, text in hits[: args.show]:
            print(f"\n- {name}: {doc} (score {score:.2f}; {', '.join(codes)})\n  {' '.join(text.split())[:240]!r}")


if __name__ == "__main__":
    main()
