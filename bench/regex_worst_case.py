"""Worst-case cost of each instruction rule on crafted input (regex backtracking).

A document is attacker-controlled, so a rule whose regular expression
backtracks quadratically on some input is a way to stall ingestion. For every
rule this runs its pattern on inputs built to provoke backtracking (its anchor
words followed by long runs of spaces, tabs, repeated words, unclosed table
cells, question marks, sentence ends or a speaker's colon before spaces, unclosed
calls; and the anchor words themselves repeated) and prints, per rule, the slowest input's time and its
ratio to the same rule on ordinary prose of the same length, measured in the
same process. A ratio near 1 means linear; a rule far above the others is the
one to read. The anchor prefilter is bypassed: the pattern itself is timed.

    python bench/regex_worst_case.py [--chars 2000] [--top 12]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragguard.detectors.instruction_rules import compiled_rules  # noqa: E402
from ragguard.detectors.instructions import RULES, anchor_groups  # noqa: E402

PROSE = (
    "The harbour was rebuilt after the storm of 1911, and the new quay opened two years later. "
    "Fishing boats moored along its western wall, while ferries used the deeper berth to the east. "
)

# Fillers that make ambiguous whitespace or repetition explode when nothing closes the match.
FILLERS: dict[str, Callable[[int], str]] = {
    "spaces": lambda n: " " * n,
    "tabs": lambda n: "\t" * n,
    "space-tab": lambda n: " \t" * (n // 2),
    "words": lambda n: "word " * (n // 5),
    "cells": lambda n: "| a  " * (n // 5),
    "questions": lambda n: "what is it? " * (n // 12),
    "commas": lambda n: ", " * (n // 2),
    "newlines": lambda n: "x\n" * (n // 2),
    # Blank lines: ^\s* under MULTILINE re-reads the rest of such a run from every line start
    # (RG-INS-033 and RG-INS-091 were quadratic on it; found by fuzzing, not by this bench).
    "blank-lines": lambda n: "\n" * n,
    # Found by review (RG-INS-114/116/117's first forms): a sentence end or a speaker's colon
    # before a run of spaces, and unclosed calls.
    "full-stops": lambda n: ". " * (n // 2),
    "stop-spaces": lambda n: "." + " " * (n - 1),
    "colon-spaces": lambda n: "\nMara:" + " " * (n - 7),
    "open-calls": lambda n: "open(" * (n // 5),
}


def inputs(anchors: tuple[tuple[str, ...], ...], chars: int) -> dict[str, str]:
    """Crafted inputs for one rule: an anchor at a line start, then a filler, then an odd ending.

    Every alternative of every anchor group is tried once, beside the first
    alternative of the other groups, so a rule's rarer anchors ("hi ", "dear")
    are not left out.
    """
    firsts = [g[0] for g in anchors]
    heads = {" ".join(firsts)} if firsts else {""}
    for gi, group in enumerate(anchors):
        for alt in group:
            heads.add(" ".join([*firsts[:gi], alt, *firsts[gi + 1 :]]))
    out = {}
    # The filler also goes between two anchor groups ("answer" ... "die"): where a pattern
    # allows a gap, an ambiguous gap is what backtracks.
    for (fname, fill), gi in itertools.product(FILLERS.items(), range(1, len(firsts))):
        left, right = " ".join(firsts[:gi]), " ".join(firsts[gi:])
        out[f"{fname} between {left!r} and {right!r}"] = left.capitalize() + " " + fill(chars) + "x\n" + right
    # The head itself repeated: a gap that may cross its own keyword restarts at each copy.
    for head in sorted(heads):
        if head:
            out[f"{head!r} repeated"] = (head + " ") * (chars // (len(head) + 1)) + "x"
    for (fname, fill), head, prefix, tail in itertools.product(
        FILLERS.items(), sorted(heads), ("", "x.\n"), ("", "x\n?", "x how")
    ):
        out[f"{fname} after {prefix + head!r}{' + ' + repr(tail) if tail else ''}"] = (
            prefix + head.capitalize() + " " + fill(chars) + tail
        )
    return out


def timed(search: Callable[[str], object], text: str) -> float:
    t = time.perf_counter()
    search(text)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chars", type=int, default=2000, help="length of each crafted input (default 2000)")
    ap.add_argument("--top", type=int, default=12, help="rules to print, slowest first")
    args = ap.parse_args()
    prose = (PROSE * (args.chars // len(PROSE) + 1))[: args.chars]
    rows = []
    for rule, rx in compiled_rules(RULES):
        base = min(timed(rx.search, prose) for _ in range(3))
        worst_name, worst = "", 0.0
        for name, text in inputs(anchor_groups(rule), args.chars).items():
            t = timed(rx.search, text)
            if t > worst:
                worst_name, worst = name, t
        rows.append((worst, rule.code, worst_name, base))
    rows.sort(reverse=True)
    print(f"\n### Slowest crafted input per rule ({args.chars:,} characters; baseline: same rule on prose)\n")
    print("| rule | slowest input | seconds | prose seconds | ratio |")
    print("|---|---|---:|---:|---:|")
    for worst, code, name, base in rows[: args.top]:
        print(f"| {code} | {name} | {worst:.4f} | {base:.5f} | {worst / max(base, 1e-6):,.0f} |")
    print(f"\n{len(rows)} rules; slowest {rows[0][0]:.3f} s ({rows[0][1]}).")


if __name__ == "__main__":
    main()
