"""The text detectors with the instruction rules' shortcuts added one by one: lead, gate, phrases.

    python bench/regex_speed.py [--rounds 3] [--no-docs]

Screens the dev set's texts, their obfuscated variants (seeds 0 and 1) and the
documentation chunks of ``bench/local_docs.py`` with every default text
detector, four ways: each rule's pattern compiled as written, behind its
hand-written anchors only; led by the characters its matches can start with
(``ragguard.detectors.fastregex.compile_fast``); skipped as well on texts
without the case-sensitive words every match holds (``compile_gate``); and
as shipped, with the phrases read from each pattern added to its anchors
(``key_groups``). Block by block (250 texts), every arm in turn, the one that
goes first rotating. Prints each arm's texts/s over all rounds, the speed-ups
against as written, and whether every finding (detector, code, score, span,
explanation) was the same in every arm; exits 1 if not.
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
from ragguard.detectors.instruction_rules import RULE_FLAGS  # noqa: E402
from ragguard.detectors.normalize import keyword_automaton  # noqa: E402
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

    # Each arm is the prefilter state the instruction detector reads: its table of (rule,
    # pattern, bits its anchor groups need, gate), the keyword automaton and each word's bits.
    shipped = (instructions._TABLE, instructions._ANCHORS, instructions._ANCHOR_BITS)
    hand_groups = tuple(r.anchors for r, *_ in shipped[0])
    hand_bits, hand_need = instructions._group_bits(hand_groups)
    hand_words = keyword_automaton(sorted(hand_bits))
    rows = list(zip(shipped[0], hand_need, strict=True))
    arms = {
        "written": tuple((r, re.compile(r.pattern, RULE_FLAGS), n, None) for (r, *_), n in rows),
        "lead": tuple((r, rx, n, None) for (r, rx, *_), n in rows),
        "gate": tuple((r, rx, n, gate) for (r, rx, _, gate), n in rows),
    }
    tables = {name: (table, hand_words, hand_bits) for name, table in arms.items()}
    tables["shipped"] = shipped
    detectors, _ = split_detectors([create(n) for n in DEFAULT_DETECTORS])
    sets = {
        "dev set, variants, docs": corpus(args.data, not args.no_docs),
        "audit bench texts": audit_texts(2000, args.data),
    }
    same = True
    print(
        "| texts | n | as written: texts/s | first-character lead | lead + gate | lead + gate + phrases "
        "(shipped) | speed-up: lead | lead + gate | shipped |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, texts in sets.items():
        # Every arm screens each block of texts in turn, the first one rotating: this machine's
        # speed drifts within a run by more than the difference measured, and block by block
        # the drift falls on every arm alike.
        spent = dict.fromkeys(tables, 0.0)
        found: dict[str, list[list[tuple[object, ...]]]] = {arm: [] for arm in tables}
        for r in range(args.rounds):
            for b, start in enumerate(range(0, len(texts), BLOCK)):
                block = texts[start : start + BLOCK]
                names = list(tables)
                k = (r + b) % len(names)
                for arm in names[k:] + names[:k]:
                    instructions._TABLE, instructions._ANCHORS, instructions._ANCHOR_BITS = tables[arm]
                    t = time.perf_counter()
                    per = detect_texts(detectors, block)
                    spent[arm] += time.perf_counter() - t
                    if r == 0:
                        found[arm] += [
                            [(f.detector, f.code, f.score, f.span, f.explanation) for d in per for f in d[i]]
                            for i in range(len(block))
                        ]
        instructions._TABLE, instructions._ANCHORS, instructions._ANCHOR_BITS = shipped
        differ = sum(len({repr(found[arm][i]) for arm in tables}) > 1 for i in range(len(found["written"])))
        same = same and not differ
        n = len(texts) * args.rounds
        rates = " | ".join(f"{n / spent[arm]:,.0f}" for arm in tables)
        ups = " | ".join(f"{spent['written'] / spent[arm]:.2f}" for arm in ("lead", "gate"))
        print(f"| {label} | {len(texts):,} | {rates} | {ups} | **{spent['written'] / spent['shipped']:.2f}** |")
        print(f"\n({label}: {differ} texts with other findings)\n" if differ else "", end="")
    print(f"\nfindings identical in every arm: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
