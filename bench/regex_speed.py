"""The text detectors with the instruction rules compiled as written, led by their first characters, and gated.

    python bench/regex_speed.py [--rounds 3] [--no-docs]

Screens the dev set's texts, their obfuscated variants (seeds 0 and 1) and the
documentation chunks of ``bench/local_docs.py`` with every default text
detector, with each rule's pattern compiled as written, led by the characters
its matches can start with (``ragguard.detectors.fastregex.compile_fast``),
and as shipped: led, and skipped on texts without the case-sensitive words
every match holds (``compile_gate``). Block by block (250 texts), every arm
in turn, the one that goes first rotating. Prints each arm's texts/s over all
rounds, the speed-ups against as written, and whether every finding
(detector, code, score, span, explanation) was the same in every arm; exits
1 if not.
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

#: Texts per block: each arm screens a block, then the other arm the same block.
BLOCK = 250


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
    as_written = tuple(
        (r, re.compile(r.pattern, re.IGNORECASE | re.MULTILINE), need, None) for r, _, need, _ in shipped
    )
    lead_only = tuple((r, rx, need, None) for r, rx, need, _ in shipped)
    detectors, _ = split_detectors([create(n) for n in DEFAULT_DETECTORS])
    sets = {
        "dev set, variants, docs": corpus(args.data, not args.no_docs),
        "audit bench texts": audit_texts(2000, args.data),
    }
    same = True
    print(
        "| texts | n | as written: texts/s | first-character lead | lead + gate (shipped) "
        "| speed-up: lead | speed-up: shipped |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    tables = {"written": as_written, "lead": lead_only, "shipped": shipped}
    for label, texts in sets.items():
        # Both arms screen each block of texts in turn, the first one alternating: this machine's
        # speed drifts within a run by more than the difference measured, and block by block
        # the drift falls on both arms alike.
        spent = dict.fromkeys(tables, 0.0)
        found: dict[str, list[list[tuple[object, ...]]]] = {arm: [] for arm in tables}
        for r in range(args.rounds):
            for b, start in enumerate(range(0, len(texts), BLOCK)):
                block = texts[start : start + BLOCK]
                names = list(tables)
                k = (r + b) % len(names)
                order = names[k:] + names[:k]
                for arm in order:
                    instructions._TABLE = tables[arm]
                    t = time.perf_counter()
                    per = detect_texts(detectors, block)
                    spent[arm] += time.perf_counter() - t
                    if r == 0:
                        found[arm] += [
                            [(f.detector, f.code, f.score, f.span, f.explanation) for d in per for f in d[i]]
                            for i in range(len(block))
                        ]
        instructions._TABLE = shipped
        differ = sum(len({repr(found[arm][i]) for arm in tables}) > 1 for i in range(len(found["written"])))
        same = same and not differ
        n = len(texts) * args.rounds
        print(
            f"| {label} | {len(texts):,} | {n / spent['written']:,.0f} | {n / spent['lead']:,.0f} | "
            f"{n / spent['shipped']:,.0f} | {spent['written'] / spent['lead']:.2f} | "
            f"**{spent['written'] / spent['shipped']:.2f}** |"
        )
        print(f"\n({label}: {differ} texts with other findings)\n" if differ else "", end="")
    print(f"\nfindings identical in every arm: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
