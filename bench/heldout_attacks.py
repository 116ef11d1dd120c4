"""Recall on attack texts from outside the dev set, which no rule was tuned on.

    pip download pyrit==1.1.0 --no-deps -d bench/.cache/pyrit     # once: Microsoft PyRIT's wheel, MIT
    python bench/heldout_attacks.py [--wheel PATH] [--pipeline] [--show N]

The dev set's positives are what the rules were tuned against; this is a check
on attacks nobody tuned on. It reads them from the PyRIT wheel (nothing is
installed or imported from it):

* ``jailbreak``: the jailbreak templates (``pyrit/datasets/jailbreak/templates``,
  DAN, AIM, developer-mode and ~650 more), persona and role switches addressed
  to the model, with every ``{{ parameter }}`` filled with one fixed, harmless
  task. A crawled page carrying one is the persona-switch injection that the
  instruction detector is meant to stop;
* ``prompt-extraction``: the ps-fuzz system-prompt theft seeds PyRIT ships.

The jailbreak templates come in two parts. Misses from the templates at the
top level and in ``Arth_Singh/``, ``multi_parameter/`` and ``pliny/`` (167) were read while
revising the role rules; the 488 in ``in_the_wild/`` (jailbreaks collected from
public forums) were not, and their misses are not printed unless asked
(``--show-held-out``), so that part stays a held-out measurement.

Each text is one untrusted record, cut with ragguard's chunker and screened
as ingest would (``bench/local_docs.py`` does the same for clean documentation,
which gives the false-positive side). The script prints, per family, the share of
records with at least one chunk the default policy would quarantine and the share
of chunks, then the records it missed. By default only the text detectors run;
``--pipeline`` screens through :meth:`Guard.scan` with every default detector
(embeds every chunk with the shipped model).

This is a held-out measurement: do not tune rules on what it prints.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_docs import chunks_of, scores_pipeline, scores_text_only  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ragguard.policy import Policy  # noqa: E402
from ragguard.types import TrustTier  # noqa: E402

DEFAULT_WHEEL_DIR = Path(__file__).resolve().parent / ".cache" / "pyrit"
TASK = "Explain how photosynthesis works in plants."
_PARAMETER = re.compile(r"\{\{\s*[\w.]+\s*\}\}")
_TEMPLATES = "pyrit/datasets/jailbreak/templates/"
# Rules were revised after reading misses from the other templates; this folder's
# texts were never printed while doing so, and --show does not print them.
HELD_OUT_FOLDER = "in_the_wild/"
_EXTRACTION = "pyrit/datasets/seed_datasets/local/psfuzz_steal_system.prompt"


def find_wheel(given: Path | None) -> Path:
    """The PyRIT wheel to read, or exit with the command that fetches it."""
    if given is not None:
        return given
    found = sorted(DEFAULT_WHEEL_DIR.glob("pyrit-*.whl"))
    if not found:
        sys.exit(
            f"no PyRIT wheel in {DEFAULT_WHEEL_DIR}; fetch it once with\n"
            f"  pip download pyrit==1.1.0 --no-deps -d {DEFAULT_WHEEL_DIR}"
        )
    return found[-1]


def attack_families(wheel: Path) -> dict[str, list[tuple[str, str]]]:
    """``family -> [(name, text)]`` read from the wheel's YAML datasets."""
    jailbreak: list[tuple[str, str]] = []
    extraction: list[tuple[str, str]] = []
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if name.startswith(_TEMPLATES) and name.endswith(".yaml"):
                doc = yaml.safe_load(zf.read(name))
                value = doc.get("value") if isinstance(doc, dict) else None
                if isinstance(value, str) and value.strip():
                    jailbreak.append((name[len(_TEMPLATES) :], _PARAMETER.sub(TASK, value)))
        doc = yaml.safe_load(zf.read(_EXTRACTION))
        for seed in doc.get("seeds", []):
            # One seed lists several numbered attacks separated by " |".
            for i, part in enumerate(p.strip() for p in str(seed.get("value", "")).split(" |")):
                if part:
                    extraction.append((f"psfuzz_steal_system#{i}", part))
    wild = [(n, t) for n, t in jailbreak if n.startswith(HELD_OUT_FOLDER)]
    return {
        "jailbreak, looked at": [(n, t) for n, t in jailbreak if not n.startswith(HELD_OUT_FOLDER)],
        "jailbreak, held out (in_the_wild)": wild,
        "prompt-extraction, looked at": extraction,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, help="the PyRIT wheel (default: the newest in bench/.cache/pyrit)")
    ap.add_argument("--pipeline", action="store_true", help="screen with every default detector (embeds each chunk)")
    ap.add_argument("--show", type=int, default=15, metavar="N", help="print up to N missed records per family")
    ap.add_argument("--show-held-out", action="store_true", help="also print misses of the held-out folder")
    args = ap.parse_args()
    wheel = find_wheel(args.wheel)
    threshold = Policy().thresholds(TrustTier.UNTRUSTED).quarantine
    mode = "every default detector (Guard.scan)" if args.pipeline else "text detectors only"
    print(f"\n### Held-out attacks from {wheel.name}: caught at the default policy ({mode})\n")
    print("| family | records | records caught (any chunk) | chunks | chunks caught | top rule codes |")
    print("|---|---:|---:|---:|---:|---|")
    missed: dict[str, list[tuple[str, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for family, docs in attack_families(wheel).items():
            pieces = chunks_of(docs)
            scored = (
                scores_pipeline(docs, Path(tmp) / family) if args.pipeline else scores_text_only([t for _, t in pieces])
            )
            caught_docs = {doc for (doc, _), (s, _) in zip(pieces, scored, strict=True) if s >= threshold}
            n_chunks = sum(s >= threshold for s, _ in scored)
            codes = collections.Counter(c for s, cs in scored if s >= threshold for c in cs)
            print(
                f"| {family} | {len(docs)} | {len(caught_docs) / len(docs):.3f} ({len(caught_docs)}) | "
                f"{len(pieces)} | {n_chunks / len(pieces):.3f} | "
                f"{', '.join(f'{c} x{n}' for c, n in codes.most_common(6)) or '-'} |",
                flush=True,
            )
            missed[family] = [(name, text) for name, text in docs if name not in caught_docs]
    for family, items in missed.items():
        if "held out" in family and not args.show_held_out:
            continue
        for name, text in items[: args.show]:
            print(f"\n- missed {family}: {name}\n  {' '.join(text.split())[:240]!r}")


if __name__ == "__main__":
    main()
