"""A pattern led by its possible first characters finds exactly what the pattern finds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragguard.detectors.fastregex import compile_fast, first_chars
from ragguard.detectors.instructions import RULES

_FLAGS = re.IGNORECASE | re.MULTILINE


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
