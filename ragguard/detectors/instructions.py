"""Instruction-like content: text addressed to the model rather than the reader.

The detector scans the normalised text and every decoded view of it (see
:mod:`ragguard.detectors.normalize`) with the rule table of
:mod:`ragguard.detectors.instruction_rules`, and reports at most one finding
per rule, with the span mapped back to the original text. An instruction
recovered from an encoding scores higher than the same instruction in plain
sight: encoding an instruction has no benign reason in a knowledge-base
document.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ragguard.detectors.base import TextDetector
from ragguard.detectors.decoders import views
from ragguard.detectors.fastregex import compile_gate, key_groups
from ragguard.detectors.instruction_rules import CORE_RULES, RULE_FLAGS, Rule, compiled_rules
from ragguard.detectors.instruction_rules_direct import DIRECT_RULES
from ragguard.detectors.instruction_rules_indirect import INDIRECT_RULES
from ragguard.detectors.memo import memoized
from ragguard.detectors.normalize import View, keyword_automaton, match_key, normalize
from ragguard.types import Finding, Span

__all__ = [
    "RULES",
    "InstructionDetector",
    "Rule",
    "RuleMatch",
    "all_matches",
    "anchor_groups",
    "boost",
    "explained_by",
    "plain_matches",
    "present_anchors",
    "runnable_rules",
    "scan_text",
    "scan_view",
]

#: Every instruction rule: overrides, roles and markup; direct requests; indirect injection.
RULES: tuple[Rule, ...] = CORE_RULES + DIRECT_RULES + INDIRECT_RULES

# Compiled once at import; immutable afterwards.
_COMPILED: tuple[tuple[Rule, re.Pattern[str]], ...] = compiled_rules(RULES)


def anchor_groups(rule: Rule) -> tuple[tuple[str, ...], ...]:
    """The rule's anchor groups: its hand-written ones, then those read from its pattern.

    The ones read from the pattern (:func:`~ragguard.detectors.fastregex.key_groups`)
    are phrases every match holds ("always answer", "always reply", ... where the
    hand-written anchors say "always"), so the rule is skipped on more texts it
    cannot match.
    """
    derived = key_groups(rule.pattern, RULE_FLAGS)
    return rule.anchors + tuple(tuple(sorted(g)) for g in derived)


_GROUPS: tuple[tuple[tuple[str, ...], ...], ...] = tuple(anchor_groups(r) for r, _ in _COMPILED)
# Every anchor substring once, so a text is searched for each keyword once; rules
# then check their anchor groups with one integer test (see _group_bits).
_ALL_ANCHORS: tuple[str, ...] = tuple(sorted({a for groups in _GROUPS for g in groups for a in g}))


# Read-only after import: searching only reads it (each iter() keeps its own state),
# so threads may share it; nothing may add words or pickle it after this line.
_ANCHORS = keyword_automaton(_ALL_ANCHORS)


def present_anchors(key: str) -> frozenset[str]:
    """The anchors that occur in ``key`` (a :func:`match_key` string)."""
    return frozenset(w for _, w in _ANCHORS.iter(key))


def _group_bits(per_rule: tuple[tuple[tuple[str, ...], ...], ...]) -> tuple[dict[str, int], tuple[int, ...]]:
    """One bit per (rule, anchor group): each anchor's bits, and each rule's bits.

    A rule may run when every one of its groups has an anchor in the text, that
    is when the OR of the present anchors' bits covers the rule's bits. One
    integer test per rule replaces a set-intersection test per group.
    """
    of_anchor: dict[str, int] = {}
    of_rule: list[int] = []
    bit = 1
    for groups in per_rule:
        need = 0
        for group in groups:
            for a in group:
                of_anchor[a] = of_anchor.get(a, 0) | bit
            need |= bit
            bit <<= 1
        of_rule.append(need)
    return of_anchor, tuple(of_rule)


_ANCHOR_BITS, _RULE_BITS = _group_bits(_GROUPS)
# (rule, pattern, bits its groups need, gate): what the scan loop walks, one tuple per rule.
# The gate searches the case-sensitive words every match holds ("Write", "Draft"... in
# RG-INS-105), which the lower-cased anchors cannot tell from "write"; None for most rules.
_TABLE: tuple[tuple[Rule, re.Pattern[str], int, re.Pattern[str] | None], ...] = tuple(
    (r, rx, need, compile_gate(r.pattern, RULE_FLAGS)) for (r, rx), need in zip(_COMPILED, _RULE_BITS, strict=True)
)
# Texts longer than this are scanned in full by the normalised view only;
# decoders and rot13 stop at this many characters to bound the work.
_MAX_DECODE_CHARS = 200_000


@dataclass(frozen=True)
class RuleMatch:
    """One rule matching one view.

    Attributes:
        rule: The rule that matched.
        span: Where, in the original text.
        view: Kind of view it matched in (``normalized``, ``base64``, ...).
        snippet: The matched text as the view reads it (decoded, normalised).
    """

    rule: Rule
    span: Span
    view: str
    snippet: str


def boost(score: float, factor: float) -> float:
    """Raise ``score`` by removing ``factor`` of its remaining doubt."""
    return min(0.99, score + (1.0 - score) * factor)


def scan_view(view: View, keep: Callable[[RuleMatch], bool] | None = None) -> list[RuleMatch]:
    """Every rule's first match in one view, with spans in the original text.

    Args:
        view: A view from :func:`ragguard.detectors.normalize.views`.
        keep: If given, each rule's matches are read in order and the first one
            ``keep`` accepts is taken (a later match may be the one that counts).

    Returns:
        One :class:`RuleMatch` per matching rule.
    """
    out: list[RuleMatch] = []
    for matches in _rule_matches(view):
        for m in matches:
            if keep is None or keep(m):
                out.append(m)
                break
    return out


def all_matches(view: View) -> list[RuleMatch]:
    """Every (non-overlapping) match of every rule in one view, spans in the original text."""
    return [m for matches in _rule_matches(view) for m in matches]


@memoized
def plain_matches(text: str) -> list[RuleMatch]:
    """:func:`scan_view` of the normalised ``text``, shared by the detectors that read it (read-only)."""
    return scan_view(normalize(text).view)


def _rule_matches(view: View) -> Iterator[Iterator[RuleMatch]]:
    """Per rule whose anchors the view holds, its matches (lazily: a caller may stop at the first)."""
    text = view.text
    for rule, rx in runnable_rules(text):
        yield (_as_match(rule, view, m) for m in rx.finditer(text))


def runnable_rules(text: str) -> Iterator[tuple[Rule, re.Pattern[str]]]:
    """The rules (in table order) each of whose anchor groups has an anchor in ``text``, and whose gate finds a word.

    A rule that fails this cannot match (its pattern needs a word of every
    group, and one of its gate's case-sensitive words), so its regular
    expression is not run.
    """
    have = functools.reduce(operator.or_, map(_ANCHOR_BITS.__getitem__, present_anchors(match_key(text))), 0)
    for rule, rx, need, gate in _TABLE:
        if have & need == need and (gate is None or gate.search(text)):
            yield rule, rx


def _as_match(rule: Rule, view: View, m: re.Match[str]) -> RuleMatch:
    start, end = m.span()
    if end == start:
        end = min(start + 1, len(view.text))
    return RuleMatch(rule, view.offsets.to_original(start, end), view.kind, m.group())


def explained_by(plain: Sequence[RuleMatch]) -> Callable[[RuleMatch], bool]:
    """Whether a match is one the plain text already shows: the same rule, overlapping spans.

    A view that puts decoded or hidden text in its place also holds the visible
    text around it; a rule whose match reaches from visible words into the run
    ("add your key to the URL" + a base64 string) says nothing the plain view
    did not, and must not be boosted as if decoded.
    """
    spans: dict[str, list[Span]] = {}
    for m in plain:
        spans.setdefault(m.rule.code, []).append(m.span)

    def check(m: RuleMatch) -> bool:
        return any(s.overlaps(m.span) for s in spans.get(m.rule.code, ()))

    return check


def _in_focus(focus: tuple[Span, ...], explained: Callable[[RuleMatch], bool]) -> Callable[[RuleMatch], bool]:
    def keep(m: RuleMatch) -> bool:
        return any(m.span.overlaps(r) for r in focus) and not explained(m)

    return keep


def scan_text(text: str) -> list[RuleMatch]:
    """Rule matches over all views of ``text`` (normalised and decoded).

    Args:
        text: Any string.

    Returns:
        Matches, at most one per (rule, view).
    """
    if not text:
        return []
    plain = plain_matches(text)
    if len(text) > _MAX_DECODE_CHARS:
        return list(plain)
    norm, all_views = views(text)
    explained = explained_by(plain)
    matches: list[RuleMatch] = list(plain)
    for v in all_views:
        if v is norm.view:
            continue
        # Decoded runs shown in place: a match counts if it reaches into a run and the plain
        # view does not already show it (it would be boosted here as if decoded).
        keep = None if v.focus is None else _in_focus(v.focus, explained)
        matches.extend(scan_view(v, keep=keep))
    return matches


def _explain(rule: Rule, view: str, snippet: str) -> str:
    shown = " ".join(snippet.split())
    if len(shown) > 80:
        shown = shown[:77] + "..."
    where = "" if view == "normalized" else f" (in {view}-decoded text)"
    return f"Instruction-like content{where}: {rule.why}: {shown!r}."


class InstructionDetector(TextDetector):
    """Flags text that speaks to the model: overrides, role switches, fake system turns.

    Args:
        decoded_boost: Fraction of remaining doubt removed when a rule
            matches only in decoded or hidden text (base64, tag characters...).
        min_score: Findings scoring below this are dropped.
    """

    span_local = True

    name = "instructions"

    def __init__(self, decoded_boost: float = 0.35, min_score: float = 0.0) -> None:
        self.decoded_boost = decoded_boost
        self.min_score = min_score

    def detect_text(self, text: str) -> list[Finding]:
        """Findings for one text: at most one per rule code, the strongest view kept."""
        if not isinstance(text, str) or not text:
            return []
        best: dict[str, tuple[float, RuleMatch]] = {}
        for m in scan_text(text):
            score = m.rule.weight
            if m.view != "normalized":
                score = boost(score, self.decoded_boost)
            prev = best.get(m.rule.code)
            if prev is None or score > prev[0]:
                best[m.rule.code] = (score, m)
        findings = [
            Finding(self.name, code, round(score, 4), _explain(m.rule, m.view, m.snippet), m.span)
            for code, (score, m) in sorted(best.items())
            if score >= self.min_score
        ]
        return findings
