"""Compile a pattern so the regex engine skips positions where no match can start.

Python's ``re`` tries a pattern at every position of the text. A pattern that
opens with ``\\b`` or a lookbehind, or that is compiled case-insensitively,
gets none of the engine's own prefix shortcuts, so each position pays for
trying every alternative. Prefixing the pattern with a lookahead for the
characters a match can start with, ``(?=[...])``, turns most positions into
one character-class test. It changes no match: the class holds every
character any match can begin with (worked out from the parsed pattern, as a
superset), and the lookahead consumes nothing. Where that set cannot be told
(a pattern that may start with any character, or match the empty string),
the pattern is compiled as written.

Measured with ``bench/regex_speed.py`` (the dev set, its obfuscated variants,
the documentation chunks of ``bench/local_docs.py``): the same findings on
every text; the three rules that had cost most ran 2 to 3.5 times faster, and
the text detectors together 1.1 to 1.3 times.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import re._constants as _c
    import re._parser as _p
else:  # pragma: no cover - Python 3.10
    import sre_constants as _c
    import sre_parse as _p

__all__ = ["compile_fast", "first_chars"]

# A class wider than this saves little and costs a long pattern: left as written.
_MAX_FIRST_CHARS = 256
# Zero-width items: they consume nothing, so the first character comes after them.
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, *([_c.POSSESSIVE_REPEAT] if hasattr(_c, "POSSESSIVE_REPEAT") else [])}


class _Unknown(Exception):
    """The item may start with any character, or is not understood: no shortcut."""


@functools.cache
def _whitespace() -> frozenset[str]:
    # What ``\s`` matches in a str pattern: the characters str.isspace() accepts,
    # none of them above U+3000.
    return frozenset(c for c in map(chr, range(0x3001)) if c.isspace())


def _class_chars(items: Any, folds: bool) -> set[tuple[str, bool]]:
    out: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            out.add(chr(av))
        elif op is _c.RANGE and av[1] - av[0] < _MAX_FIRST_CHARS:
            out.update(map(chr, range(av[0], av[1] + 1)))
        elif op is _c.CATEGORY and av is _c.CATEGORY_SPACE:
            out |= _whitespace()
        else:  # NEGATE, other categories (\w, \d, ...), wide ranges
            raise _Unknown
    return {(c, folds) for c in out}


# A first character: (the character, whether case-insensitivity applies where it was read).
_Firsts = set[tuple[str, bool]]


def _first_of_sequence(items: Any, folds: bool) -> tuple[_Firsts, bool]:
    """``(firsts, open)``: a match of ``items`` at position p needs text[p] among ``firsts``, unless ``open``.

    ``open`` when the items can match without consuming a character and without
    a lookahead that pins text[p] down: then what follows them decides.
    """
    firsts: _Firsts = set()
    for op, av in items:
        first, is_open = _first_of_item(op, av, folds)
        firsts |= first
        if not is_open:
            return firsts, False
    return firsts, True


def _first_of_item(op: Any, av: Any, folds: bool) -> tuple[_Firsts, bool]:
    if op is _c.LITERAL:
        return {(chr(av), folds)}, False
    if op is _c.IN:
        return _class_chars(av, folds), False
    if op is _c.ASSERT and av[0] == 1:
        # A lookahead with nothing consumed before it says what the start position holds.
        try:
            first, is_open = _first_of_sequence(av[1], folds)
        except _Unknown:
            return set(), True
        return (set(), True) if is_open else (first, False)
    if op in _ZERO_WIDTH:
        return set(), True
    if op is _c.BRANCH:
        firsts: _Firsts = set()
        any_open = False
        for alternative in av[1]:
            first, is_open = _first_of_sequence(alternative, folds)
            firsts |= first
            any_open = any_open or is_open
        return firsts, any_open
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        # Turning case-insensitivity on inside a case-sensitive pattern is not followed
        # (the lead class would need it too); turning it off is, as in "(?-i:DAN)".
        if add_flags & _c.SRE_FLAG_IGNORECASE and not folds:
            raise _Unknown
        # Nor is Unicode folding switched on inside an ASCII pattern: "(?u:k)" also matches
        # the KELVIN SIGN, which a class compiled with the outer flags would refuse.
        if add_flags & _c.SRE_FLAG_UNICODE and folds:
            raise _Unknown
        return _first_of_sequence(sub, folds and not del_flags & _c.SRE_FLAG_IGNORECASE)
    if op in _REPEATS:
        low, _high, sub = av
        first, is_open = _first_of_sequence(sub, folds)
        return first, is_open or low == 0
    if hasattr(_c, "ATOMIC_GROUP") and op is _c.ATOMIC_GROUP:
        return _first_of_sequence(av, folds)
    raise _Unknown  # ANY, NOT_LITERAL, back-references, conditionals, ...


def first_chars(pattern: str, flags: int = 0) -> tuple[frozenset[str], frozenset[str]] | None:
    """The characters a match of ``pattern`` can start with, or ``None`` if that cannot be told.

    Returns:
        ``(folded, exact)``: characters read where ``re.IGNORECASE`` applies (a
        match may start with any case variant of them, as a class compiled
        with the same flags accepts) and characters read in a case-sensitive
        part. ``None`` when a match may be empty or start with any character
        (``.``, ``\\w``, a negated class).
    """
    try:
        parsed = _p.parse(pattern, flags)
        firsts, is_open = _first_of_sequence(parsed.data, bool(parsed.state.flags & re.IGNORECASE))
    except Exception:  # noqa: BLE001 - _Unknown, or any surprise from the standard library's internal parser
        return None
    if is_open or not firsts or len(firsts) > _MAX_FIRST_CHARS:
        return None
    folded = frozenset(c for c, f in firsts if f)
    if any(ord(c) > 0xFFFF for c in folded):
        # CPython leaves a case-insensitive class's astral letters un-lowered while it
        # lowers the text it compares (re.match("[\U00010400\U00010401]", "\U00010400",
        # re.I) is None), so such a lead would refuse starts the pattern accepts.
        return None
    return folded, frozenset(c for c, f in firsts if not f) - folded


def compile_fast(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, led by a lookahead for the characters a match can start with.

    Matches, spans and groups are those of the pattern as written (the
    lookahead consumes nothing and captures nothing).
    """
    firsts = first_chars(pattern, flags)
    if firsts is None:
        return re.compile(pattern, flags)
    folded, exact = ("".join(re.escape(c) for c in sorted(part)) for part in firsts)
    lead = "|".join([*([f"[{folded}]"] if folded else []), *([f"(?-i:[{exact}])"] if exact else [])])
    try:
        return re.compile(f"(?={lead})(?:{pattern})", flags)
    except re.error:  # a global inline flag such as "(?i)" must open the pattern
        return re.compile(pattern, flags)
