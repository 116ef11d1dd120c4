"""The text detectors with the instruction rules compiled as written vs. led by their first characters.

    python bench/regex_speed.py [--rounds 3] [--no-docs]

Screens the dev set's texts, their obfuscated variants (seeds 0 and 1) and the
documentation chunks of ``bench/local_docs.py`` with every default text
detector, twice per round: once with each rule's pattern compiled as written
and once as shipped (``ragguard.detectors.fastregex.compile_fast``), the arm
that goes first alternating. Prints the best time of each arm, the speed-up,
and whether every finding (detector, code, score, span, explanation) was the
same in both arms; exits 1 if not.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import detection  # noqa: E402
import devdata  # noqa: E402
import local_docs  # noqa: E402
from perf import texts as audit_texts  # noqa: E402

from ragguard.detectors import instructions  # noqa: E402
from ragguard.detectors.base import detect_texts, split_detectors  # noqa: E402
from ragguard.detectors.registry import DEFAULT_DETECTORS, create  # noqa: E402


def corpus(data: Path, docs: bool) -> list[str]:
    rows = devdata.load(data / "injection" / "documents.jsonl")
    poisoning = devdata.load(data / "poisoning" / "reference.jsonl") + devdata.load(
        data / "poisoning" / "incoming.jsonl"
    )
    out = [r.text for r in rows + poisoning]
    for seed in (0, 1):
        for variants in detection.obfuscated(rows, seed).values():
            out += [v.text for v in variants]
    if docs:
        found = local_docs.package_readmes() + local_docs.stdlib_pydoc() + local_docs.system_docs()
        out += [text for _, text in local_docs.chunks_of(found)]
    return list(dict.fromkeys(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=devdata.DEFAULT_DATA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-docs", action="store_true", help="leave out the documentation corpus")
    args = ap.parse_args()

    shipped = instructions._TABLE
    as_written = tuple((r, re.compile(r.pattern, re.IGNORECASE | re.MULTILINE), need) for r, _, need in shipped)
    detectors, _ = split_detectors([create(n) for n in DEFAULT_DETECTORS])
    sets = {
        "dev set, variants, docs": corpus(args.data, not args.no_docs),
        "audit bench texts": audit_texts(2000, args.data),
    }
    same = True
    print("| texts | n | as written: texts/s | first-character lead: texts/s | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for label, texts in sets.items():
        best: dict[str, float] = {}
        found: dict[str, list[list[tuple[object, ...]]]] = {}
        for r in range(args.rounds):
            arms = [("written", as_written), ("lead", shipped)]
            for arm, table in arms if r % 2 else arms[::-1]:
                instructions._TABLE = table
                t = time.perf_counter()
                per = detect_texts(detectors, texts)
                best[arm] = min(best.get(arm, float("inf")), time.perf_counter() - t)
                found[arm] = [
                    [(f.detector, f.code, f.score, f.span, f.explanation) for d in per for f in d[i]]
                    for i in range(len(texts))
                ]
        instructions._TABLE = shipped
        differ = sum(a != b for a, b in zip(found["written"], found["lead"], strict=True))
        same = same and not differ
        n = len(texts)
        print(
            f"| {label} | {n:,} | {n / best['written']:,.0f} | {n / best['lead']:,.0f} | "
            f"**{best['written'] / best['lead']:.2f}** |"
        )
        print(f"\n({label}: {differ} texts with other findings)\n" if differ else "", end="")
    print(f"\nfindings identical in both arms: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
