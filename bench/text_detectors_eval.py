"""Evaluate the text-side detectors on the development data.

Runs the instruction, hidden-content and obfuscation detectors over
``/work/shared/data/dev/injection/documents.jsonl`` and the clean Wikipedia
passages of ``/work/shared/data/dev/poisoning/``; a text counts as flagged
when the noisy-OR of its findings' scores reaches the default quarantine
threshold (0.5). Prints per-family recall (label 1) or FPR (label 0), the
same recall with every positive obfuscated five ways, and throughput.

Usage: ``python bench/text_detectors_eval.py [--data DIR] [--threshold 0.5] [--show-misses N]``
"""

from __future__ import annotations

import argparse
import base64
import collections
import difflib
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragguard.detectors.base import TextDetector  # noqa: E402
from ragguard.detectors.hidden import HiddenContentDetector  # noqa: E402
from ragguard.detectors.instructions import InstructionDetector  # noqa: E402
from ragguard.detectors.normalize import ObfuscationDetector  # noqa: E402

Record = dict[str, object]

_HOMO = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у", "s": "ѕ"}


def load(path: Path) -> list[Record]:
    """Read a JSONL file of records."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score(detectors: list[TextDetector], text: str) -> float:
    """Noisy-OR of every finding's score, as the default policy combines them."""
    prod = 1.0
    for d in detectors:
        for f in d.detect_text(text):
            prod *= 1.0 - f.score
    return 1.0 - prod


def payload_span(rec: Record, by_id: dict[str, Record]) -> tuple[int, int]:
    """Where the attack sits in a positive: the insertion versus its clean twin, else all."""
    text = str(rec["text"])
    twin = by_id.get(str(rec["id"]).removesuffix("-inj"))
    if twin is None or twin is rec:
        return 0, len(text)
    sm = difflib.SequenceMatcher(None, str(twin["text"]), text, autojunk=False)
    spans = [(j1, j2) for op, _, _, j1, j2 in sm.get_opcodes() if op in ("insert", "replace")]
    if not spans:
        return 0, len(text)
    return min(s for s, _ in spans), max(e for _, e in spans)


def _zero_width(s: str, rng: random.Random) -> str:
    out = []
    for i, ch in enumerate(s):
        out.append(ch)
        if ch.isalpha() and i + 1 < len(s) and s[i + 1].isalpha() and rng.random() < 0.5:
            out.append(rng.choice("\u200b\u200c\u200d\u2060"))
    return "".join(out)


def _homoglyph(s: str, rng: random.Random) -> str:
    return "".join(_HOMO[c] if c in _HOMO and rng.random() < 0.6 else c for c in s)


def _b64(s: str, rng: random.Random) -> str:
    return base64.b64encode(s.strip().encode("utf-8")).decode("ascii")


def _comment(s: str, rng: random.Random) -> str:
    return f"<!-- {s.strip()} -->"


def _tags(s: str, rng: random.Random) -> str:
    return "".join(chr(0xE0000 + ord(c)) if 0x20 <= ord(c) < 0x7F else c for c in s)


OBFUSCATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "zero-width": _zero_width,
    "homoglyph": _homoglyph,
    "base64": _b64,
    "html-comment": _comment,
    "unicode-tags": _tags,
}


def main() -> int:
    """Run the evaluation and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/dev"))
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--show-misses", type=int, default=0, help="print up to N missed positives / false positives")
    args = ap.parse_args()

    detectors: list[TextDetector] = [InstructionDetector(), HiddenContentDetector(), ObfuscationDetector()]
    docs = load(args.data / "injection" / "documents.jsonl")
    by_id = {str(r["id"]): r for r in docs}
    clean_wiki = [r for r in load(args.data / "poisoning" / "reference.jsonl") if r["label"] == 0]
    clean_wiki += [r for r in load(args.data / "poisoning" / "incoming.jsonl") if r["label"] == 0]

    t0 = time.perf_counter()
    scores = [score(detectors, str(r["text"])) for r in docs]
    elapsed = time.perf_counter() - t0
    wiki_t0 = time.perf_counter()
    wiki_scores = [score(detectors, str(r["text"])) for r in clean_wiki]
    wiki_elapsed = time.perf_counter() - wiki_t0

    fam: dict[tuple[str, str, int], list[bool]] = collections.defaultdict(list)
    for r, s in zip(docs, scores, strict=True):
        fam[(str(r["dataset"]), str(r["family"]), int(str(r["label"])))].append(s >= args.threshold)

    print(f"threshold {args.threshold}; flagged = noisy-OR of findings >= threshold\n")
    print(f"{'dataset':<14} {'family':<28} {'label':>5} {'n':>5}  metric")
    pos_hits = pos_n = neg_hits = neg_n = 0
    for (ds, family, label), flags in sorted(fam.items(), key=lambda kv: (-kv[0][2], kv[0][0], kv[0][1])):
        rate = sum(flags) / len(flags)
        name = "recall" if label else "FPR"
        print(f"{ds:<14} {family:<28} {label:>5} {len(flags):>5}  {name} {rate:.3f}")
        if label:
            pos_hits, pos_n = pos_hits + sum(flags), pos_n + len(flags)
        else:
            neg_hits, neg_n = neg_hits + sum(flags), neg_n + len(flags)
    wiki_fp = sum(s >= args.threshold for s in wiki_scores)
    print(f"\noverall injection recall {pos_hits / pos_n:.3f} ({pos_hits}/{pos_n})")
    print(f"overall FPR (injection negatives) {neg_hits / neg_n:.4f} ({neg_hits}/{neg_n})")
    print(
        f"FPR clean Wikipedia (poisoning/ reference+incoming) {wiki_fp / len(wiki_scores):.4f} "
        f"({wiki_fp}/{len(wiki_scores)})"
    )

    # Obfuscated positives: the attack part of each positive rewritten in place.
    positives = [r for r in docs if r["label"] == 1]
    spans = {str(r["id"]): payload_span(r, by_id) for r in positives}
    print(f"\nobfuscated recall (plain {pos_hits / pos_n:.3f})")
    print(
        f"{'obfuscation':<14} "
        + " ".join(f"{f[:22]:>24}" for f in sorted({str(r["family"]) for r in positives}))
        + "   overall"
    )
    # "all" = the three detectors; "no-obf" = without the obfuscation detector, to show
    # how much the instruction rules still find through normalisation and decoding alone.
    for oname, fn in OBFUSCATIONS.items():
        for which, dets in (("all", detectors), ("no-obf", detectors[:2])):
            rng = random.Random(7)
            per: dict[str, list[bool]] = collections.defaultdict(list)
            for r in positives:
                text = str(r["text"])
                ps, pe = spans[str(r["id"])]
                core = text[ps:pe]
                lead = core[: len(core) - len(core.lstrip())]
                trail = core[len(core.rstrip()) :]
                # Keep the whitespace around the payload so an encoded run stays a separate token.
                obf = text[:ps] + lead + fn(core.strip(), rng) + trail + text[pe:]
                per[str(r["family"])].append(score(dets, obf) >= args.threshold)
            allf = [x for v in per.values() for x in v]
            cells = " ".join(f"{sum(per[f]) / len(per[f]):>24.3f}" for f in sorted(per))
            print(f"{oname + ' ' + which:<21} " + cells + f"   {sum(allf) / len(allf):.3f}")

    n_words = sum(len(str(r["text"]).split()) for r in docs) / len(docs)
    wiki_words = sum(len(str(r["text"]).split()) for r in clean_wiki) / len(clean_wiki)
    print(
        f"\nspeed: injection docs {len(docs) / elapsed:,.0f} texts/s (mean {n_words:.0f} words); "
        f"wikipedia {len(clean_wiki) / wiki_elapsed:,.0f} texts/s (mean {wiki_words:.0f} words)"
    )

    if args.show_misses:
        shown = 0
        for r, s in zip(docs, scores, strict=True):
            if (r["label"] == 1) != (s >= args.threshold) and shown < args.show_misses:
                shown += 1
                kind = "MISS" if r["label"] == 1 else "FP"
                print(f"--- {kind} {r['id']} {r['family']} score={s:.2f}: {str(r['text'])[:300]!r}")
        for r, s in zip(clean_wiki, wiki_scores, strict=True):
            if s >= args.threshold:
                print(f"--- FP-wiki {r['id']} score={s:.2f}: {str(r['text'])[:300]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
