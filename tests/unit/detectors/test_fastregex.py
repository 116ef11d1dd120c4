"""A pattern led by its possible first characters finds exactly what the pattern finds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragguard.detectors.fastregex import compile_fast, compile_gate, first_chars, key_groups, required_words
from ragguard.detectors.instruction_rules import RULE_FLAGS
from ragguard.detectors.instructions import RULES
from ragguard.detectors.normalize import match_key, normalize

_FLAGS = RULE_FLAGS  # the shipped rules' flags


def _spans(rx: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in rx.finditer(text)]


@pytest.mark.parametrize(
    ("pattern", "flags", "folded", "exact"),
    [
        (r"\bfoo|bar", 0, set(), {"f", "b"}),
        (r"\bfoo|bar", re.I, {"f", "b"}, set()),
        (r"(?<!x)\b(?:in|to)\s+your", re.I, {"i", "t"}, set()),
        (r"(?-i:\bDAN\b)\s*mode|do\s+anything", re.I, {"d"}, {"D"}),
        (r"(?=[A-Z])[^|\n]{0,20}\bwhat", 0, set(), set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
        (r"a?b*c", 0, set(), {"a", "b", "c"}),
        (r"\|[^|\n]*\?", 0, set(), {"|"}),
    ],
)
def test_first_chars_of_patterns_it_understands(pattern: str, flags: int, folded: set[str], exact: set[str]) -> None:
    assert first_chars(pattern, flags) == (frozenset(folded), frozenset(exact))


def test_whitespace_class_is_every_character_backslash_s_matches() -> None:
    found = first_chars(r"\sx", 0)
    assert found is not None
    assert found[1] == {chr(i) for i in range(0x110000) if re.fullmatch(r"\s", chr(i))}


@pytest.mark.parametrize(
    "pattern",
    [
        r".x",  # any character
        r"\w+",  # a category other than \s
        r"[^a]b",  # a negated class
        r"a*",  # may match empty
        r"(?=a)|b?",  # one branch may match empty
        r"\b",  # zero-width only
    ],
)
def test_no_first_chars_where_a_match_may_start_anywhere(pattern: str) -> None:
    assert first_chars(pattern, 0) is None
    assert compile_fast(pattern).pattern == pattern  # compiled as written


def test_case_insensitivity_switched_on_inside_a_case_sensitive_pattern_is_not_followed() -> None:
    assert first_chars(r"(?i:k)x", 0) is None


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [
        # Found by a review: CPython refuses an upper-case astral letter in a case-insensitive
        # class of two or more items, so an astral lead would hide these matches.
        ("[\U00010400-\U00010401]", re.IGNORECASE, "\U00010400 \U00010428 x"),
        # Unicode folding switched on inside an ASCII pattern matches the KELVIN SIGN and long s.
        ("(?u:k)", re.ASCII | re.IGNORECASE, "\u212a"),
        ("(?u:s)x", re.ASCII | re.IGNORECASE, "\u017fx"),
    ],
)
def test_patterns_the_lead_would_change_are_compiled_as_written(pattern: str, flags: int, text: str) -> None:
    assert first_chars(pattern, flags) is None
    assert _spans(compile_fast(pattern, flags), text) == _spans(re.compile(pattern, flags), text)
    assert _spans(re.compile(pattern, flags), text)


def test_a_global_inline_flag_falls_back_to_the_pattern_as_written() -> None:
    rx = compile_fast(r"(?i)abc")
    assert rx.pattern == r"(?i)abc" and rx.search("xxABC")


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("kelvin", "\u212aELVIN"),  # KELVIN SIGN folds to k under IGNORECASE
        ("stop", "\u017fTOP"),  # LATIN SMALL LETTER LONG S folds to s
        ("(?-i:D)an", "Dan dan"),
        ("^\\s*user:", "x\n\u2003 user: hi"),
    ],
)
def test_special_case_folds_and_scoped_flags_match_as_written(pattern: str, text: str) -> None:
    assert _spans(compile_fast(pattern, _FLAGS), text) == _spans(re.compile(pattern, _FLAGS), text)
    assert _spans(re.compile(pattern, _FLAGS), text)


_RULE_WORDS = sorted(
    {w for r in RULES for w in re.findall(r"[A-Za-z']{2,}", r.pattern) if w not in {"ss", "ddd"}}
    | {a for r in RULES for g in r.anchors for a in g}
)
_PAIRS = [(r.code, compile_fast(r.pattern, _FLAGS), re.compile(r.pattern, _FLAGS)) for r in RULES]
_PIECES = st.one_of(
    st.sampled_from(_RULE_WORDS),
    st.sampled_from(_RULE_WORDS).map(str.upper),
    st.sampled_from(_RULE_WORDS).map(str.title),
    st.sampled_from([" ", "  ", "\n", "\t", "|", " | ", ". ", "? ", "! ", ":", '"', "\u2003", "\u212a", "\u017f", "é"]),
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_PIECES, min_size=1, max_size=30))
def test_every_instruction_rule_finds_the_same_matches_fast(parts: list[str]) -> None:
    text = " ".join(parts)
    for code, fast, plain in _PAIRS:
        assert _spans(fast, text) == _spans(plain, text), code


def _leads() -> list[tuple[str, tuple[frozenset[str], frozenset[str]], re.Pattern[str] | None, re.Pattern[str]]]:
    out = []
    for r in RULES:
        firsts = first_chars(r.pattern, _FLAGS)
        if firsts is not None:
            folded = re.compile(f"[{''.join(map(re.escape, firsts[0]))}]", _FLAGS) if firsts[0] else None
            out.append((r.code, firsts, folded, re.compile(r.pattern, _FLAGS)))
    return out


_LEADS = _leads()


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(_PIECES, min_size=1, max_size=30))
def test_every_match_starts_with_a_first_char(parts: list[str]) -> None:
    text = " ".join(parts)
    for code, firsts, folded, plain in _LEADS:
        for m in plain.finditer(text):
            c = text[m.start()]
            assert c in firsts[1] or (folded is not None and folded.fullmatch(c)), (code, c)


def _repository_texts() -> list[str]:
    root = Path(__file__).resolve().parents[3]
    paths = [*root.glob("demo/data/**/*.*"), *root.glob("docs/*.md"), root / "README.md"]
    return [p.read_text(encoding="utf-8") for p in sorted(paths) if p.is_file()]


def test_every_instruction_rule_finds_the_same_matches_fast_in_real_text() -> None:
    # The demo's attacks (which the rules catch), its clean passages and the docs.
    texts = _repository_texts()
    assert len(texts) >= 5
    matched = 0
    for code, fast, plain in _PAIRS:
        for text in texts:
            expected = _spans(plain, text)
            assert _spans(fast, text) == expected, code
            matched += len(expected)
    assert matched > 20  # the texts exercise the rules, not only their absence


@pytest.mark.parametrize(
    ("pattern", "flags", "words"),
    [
        (r"(?-i:DAN)\s+mode", re.I, {"DAN"}),
        (r"\b(?-i:[a-z]+)[ \t]+(?-i:Write|Draft|Summari[sz]e)\s", re.I, {"Write", "Draft", "Summarise", "Summarize"}),
        (r"(?:(?-i:Foo)|x(?-i:Bar))y", re.I, {"Foo", "Bar"}),  # every alternative names its words
        (r"(?:ab)?(?-i:CD|EF)", re.I, {"CD", "EF"}),  # an optional part is passed over
        (r"(?:(?-i:GH))+z", re.I, {"GH"}),  # a repeat taken at least once
        (r"(?-i:(?i:12)34)", re.I, {"1234"}),  # characters without case, under IGNORECASE or not
        (r"(?-i:x{2})y", re.I, {"xx"}),
    ],
)
def test_required_words_of_patterns_it_understands(pattern: str, flags: int, words: set[str]) -> None:
    assert required_words(pattern, flags) == frozenset(words)


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [
        (r"dan\s+mode", re.I),  # case-insensitive words are the anchors' job
        (r"(?-i:Foo)|bar", re.I),  # a silent alternative
        (r"(?:(?-i:Foo))?bar", re.I),  # optional
        (r"(?-i:(?i:ab)CD)", re.I),  # a folding part inside, and single characters
        (r"abc(?-i:XY|Z)", re.I),  # one word is a single character
        (r"(?-i:\w+)", re.I),  # unbounded
        (r"(?-i:(a)\1)", re.I),  # a back-reference
    ],
)
def test_no_required_words_where_none_can_be_told(pattern: str, flags: int) -> None:
    assert required_words(pattern, flags) is None
    assert compile_gate(pattern, flags) is None


def test_shipped_rules_with_case_sensitive_words_get_a_gate() -> None:
    gated = {r.code for r in RULES if compile_gate(r.pattern, _FLAGS) is not None}
    assert {"RG-INS-105", "RG-INS-106"} <= gated


# Patterns built from case-sensitive and folding parts, optional and repeated, and texts
# made of the same words in every case: wherever a pattern matches, its gate finds a word.
_GATE_PARTS = st.sampled_from(
    ["(?-i:Ab|Cd)", "(?-i:Ab)", "(?-i:EF|gh)?", "(?:(?-i:Ij|KL))+", "(?i:ab)", "ab", "[ \t]+", "\\s",
     "(?-i:x{2})", "(?:(?-i:Ab)|cd)", "\\b", "(?=ab)", "(?-i:[a-z]+)", "(?-i:Summari[sz]e)", "(?<!x)"]
)  # fmt: skip
_GATE_TEXT_PIECES = st.sampled_from(
    ["Ab", "ab", "AB", "aB", "Cd", "cd", "CD", "EF", "ef", "gh", "GH", "Ij", "IJ", "KL", "kl", "xx", "XX", "x",
     "Summarise", "summarize", "SUMMARIZE", " ", "\t", "\n", "\u212a", "\u017f"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(_GATE_PARTS, min_size=1, max_size=5),
    text=st.lists(_GATE_TEXT_PIECES, max_size=12).map("".join),
)
def test_a_gate_finds_a_word_in_every_text_its_pattern_matches(parts: list[str], text: str) -> None:
    pattern = "".join(parts)
    gate = compile_gate(pattern, _FLAGS)
    if gate is not None and re.search(pattern, text, _FLAGS):
        assert gate.search(text), (pattern, text)


_RULE_GATES = [(r.code, r.pattern, g) for r in RULES if (g := compile_gate(r.pattern, _FLAGS)) is not None]


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(_PIECES, min_size=1, max_size=30))
def test_every_gated_rule_match_holds_a_gate_word(parts: list[str]) -> None:
    text = " ".join(parts)
    for code, pattern, gate in _RULE_GATES:
        if re.search(pattern, text, _FLAGS):
            assert gate.search(text), code


@pytest.mark.parametrize(
    ("pattern", "groups"),
    [
        (r"\balways\s+(?:answer|reply)\b", [{"always answer", "always reply"}]),
        (r"foo(?:bar)?baz", [{"foobaz", "foobarbaz"}]),  # an optional part: both spellings
        (r"(?:abcd|efgh)\s*x{2}", [{"abcdxx", "abcd xx", "efghxx", "efgh xx"}]),
        (r"(?-i:DAN)\s+Mode", [{"dan mode"}]),  # the key is lower-cased, whatever the case scope
        (r"\bpretend\b.{0,20}\bpersona", [{"pretend"}, {"persona"}]),  # a gap splits the phrase
        (r"(?:ignore\s+all|disregard)\b.*\brules", [{"ignore all", "disregard"}, {"rules"}]),
        (r"(?:(?:ignore).*rules|forget\s+it)", [{"ignore", "forget it"}]),  # one group from each alternative
    ],
)
def test_key_groups_of_patterns_it_understands(pattern: str, groups: list[set[str]]) -> None:
    assert [set(g) for g in key_groups(pattern, _FLAGS)] == groups


@pytest.mark.parametrize(
    ("pattern", "groups"),
    [
        (r"abc|xyz", []),  # under four characters
        (r"(?:ignore|x).*rules", [{"rules"}]),  # an alternative too short to tell: that part gives none
        ("w\u00e4rst wird", [{"rst wird"}]),  # outside ASCII, re's folding and str.lower() part ways
        (r"\w+\s+\d+", []),  # unbounded
        (r"(?:stop)?", []),  # optional
        (r"(?:stop)+now", [{"stop"}]),  # a repeat's body, taken at least once (then a new phrase)
    ],
)
def test_key_groups_leave_out_what_cannot_be_told(pattern: str, groups: list[set[str]]) -> None:
    assert [set(g) for g in key_groups(pattern, _FLAGS)] == groups


_KEY_PARTS = st.sampled_from(
    ["always", "(?:answer|reply)", "\\s+", "\\s*", "[ \t]+", "(?:all\\s+)?", "rules?", "(?-i:DAN)", "x{2}",
     "(?:ignore|forget)", ".{0,5}", "\\b", "(?=a)", "mode", "[sz]"]
)  # fmt: skip
_KEY_TEXT = st.sampled_from(
    ["always", "ALWAYS", "Answer", "reply", "REPLY", "all", "rule", "Rules", "DAN", "dan", "xx", "XX", "ignore",
     "Forget", "mode", "s", "z", " ", "  ", "\t", "\n", "\u2003", "\u212a", ".", "a"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(_KEY_PARTS, min_size=1, max_size=6), pieces=st.lists(_KEY_TEXT, max_size=14))
def test_every_text_a_pattern_matches_holds_a_string_of_each_key_group(parts: list[str], pieces: list[str]) -> None:
    pattern = "".join(parts)
    text = normalize("".join(pieces)).view.text  # the detector scans normalised views
    if re.search(pattern, text, _FLAGS):
        key = match_key(text)
        for group in key_groups(pattern, _FLAGS):
            assert any(s in key for s in group), (pattern, text, sorted(group))


_RULE_KEY_GROUPS = [(r.code, r.pattern, key_groups(r.pattern, _FLAGS)) for r in RULES]


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(_PIECES, min_size=1, max_size=30))
def test_every_rule_match_holds_a_string_of_each_key_group(parts: list[str]) -> None:
    text = normalize(" ".join(parts)).view.text
    key = match_key(text)
    for code, pattern, groups in _RULE_KEY_GROUPS:
        if re.search(pattern, text, _FLAGS):
            for group in groups:
                assert any(s in key for s in group), (code, sorted(group))
