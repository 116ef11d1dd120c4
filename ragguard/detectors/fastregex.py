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

A lead cannot help a pattern whose matches start with any lower-case letter,
but one that must contain one of a few case-sensitive words ("Write",
"Draft", ... after a lower-case word) can be ruled out for a whole text by a
search for those words: :func:`required_words` finds them in the parsed
pattern and :func:`compile_gate` compiles that search.

The instruction detector's keyword prefilter (its rules' anchors) reads the
lower-cased text with whitespace runs collapsed. :func:`key_groups` reads,
from a pattern, groups of strings of that form such that every text the
pattern matches holds a string of each group ("always answer", "always
respond", ... for ``always\\s+(?:answer|respond)``), which the prefilter adds
to the rule's hand-written anchors.

Measured with ``bench/regex_speed.py`` (the dev set and its obfuscated
variants, and the audit bench's clean passages), which checks that every
finding is the same in every arm: the lead made the text detectors 1.3 and
1.2 times faster than the rules as written, the lead, gates and phrase groups
together 1.8 and 1.7 times.
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

__all__ = ["compile_fast", "compile_gate", "first_chars", "key_groups", "required_words"]

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


# Most strings a word set may hold; a part with more alternatives is skipped.
_MAX_WORDS = 64
# Shortest word worth a search of its own: single characters occur in most texts.
_MIN_WORD = 2


def _cased(ch: str) -> bool:
    # re's own test for whether case-insensitivity can change what a character matches.
    return ch.lower() != ch or ch.upper() != ch


def _folds_inside(add_flags: int, del_flags: int, folds: bool) -> bool:
    """Whether IGNORECASE applies inside a group whose inline flags add and remove these."""
    return (folds or bool(add_flags & _c.SRE_FLAG_IGNORECASE)) and not del_flags & _c.SRE_FLAG_IGNORECASE


def _exact_strings(items: Any, folds: bool) -> set[str]:
    """Every string ``items`` can match, case-sensitively; ``_Unknown`` if unbounded or cased under folding."""
    out = {""}
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: the strings around it are what the text holds
        if op is _c.LITERAL or op is _c.IN:
            options = {chr(av)} if op is _c.LITERAL else {c for c, _ in _class_chars(av, folds)}
            if folds and any(map(_cased, options)):
                raise _Unknown  # under IGNORECASE a cased letter also matches its other cases
        elif op is _c.BRANCH:
            options = set().union(*(_exact_strings(alternative, folds) for alternative in av[1]))
        elif op is _c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if add_flags & (_c.SRE_FLAG_UNICODE | _c.SRE_FLAG_LOCALE):
                raise _Unknown
            options = _exact_strings(sub, _folds_inside(add_flags, del_flags, folds))
        elif op in _REPEATS and av[0] == av[1] and av[0] <= 4:
            one = _exact_strings(av[2], folds)
            options = {""}
            for _ in range(av[0]):
                options = {a + b for a in options for b in one}
        else:
            raise _Unknown
        out = {a + b for a in out for b in options}
        if len(out) > _MAX_WORDS:
            raise _Unknown
    return out


def _required(items: Any, folds: bool) -> set[str] | None:
    """Words one of which every match of the sequence ``items`` contains, from its first part that has them."""
    for op, av in items:
        try:
            words = _exact_strings([(op, av)], folds)
        except _Unknown:
            words = set()
        if words and min(map(len, words)) >= _MIN_WORD:
            return words
        found: set[str] | None = None
        if op is _c.SUBPATTERN and not av[1] & (_c.SRE_FLAG_UNICODE | _c.SRE_FLAG_LOCALE):
            _group, add_flags, del_flags, sub = av
            found = _required(sub, _folds_inside(add_flags, del_flags, folds))
        elif op is _c.BRANCH:
            # Every alternative must name its words, or a match through the silent one holds none.
            per_alternative = [_required(alternative, folds) for alternative in av[1]]
            if all(per_alternative):
                found = set().union(*per_alternative)  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:
            found = _required(av[2], folds)  # a repeat taken at least once holds its words
        if found and len(found) <= _MAX_WORDS:
            return found
    return None


def required_words(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Case-sensitive words at least one of which every match of ``pattern`` contains, or ``None``.

    Read from the first part of the pattern, in order, that every match passes
    through and that matches one of a few fixed strings of two or more
    characters where case-insensitivity does not apply (a ``(?-i:...)`` group,
    or characters without case). Lookarounds, repeats that may be skipped, and
    anything not understood are passed over; ``None`` when no part qualifies.
    """
    try:
        parsed = _p.parse(pattern, flags)
        words = _required(parsed.data, bool(parsed.state.flags & re.IGNORECASE))
    except Exception:  # noqa: BLE001 - _Unknown, or any surprise from the standard library's internal parser
        return None
    return frozenset(words) if words else None


def compile_gate(pattern: str, flags: int = 0) -> re.Pattern[str] | None:
    """A search that finds something in every text ``pattern`` matches, or ``None`` if it has no required words.

    A text where the gate finds nothing cannot hold a match, so the pattern
    need not be run on it. The gate is case-sensitive and opens with a
    character class, which ``re`` skips to in C.
    """
    words = required_words(pattern, flags)
    if words is None:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))))


# Key groups: strings as the prefilter key spells them (lower case, one space per run of
# whitespace). A string shorter than this occurs in too many texts to rule any out.
_MIN_KEY_STRING = 4
_SPACE_RUN = re.compile(" {2,}")


def _key_strings(items: Any) -> set[str]:
    """Every key string a match of ``items`` can be; ``_Unknown`` if unbounded, too many, or not ASCII."""
    out = {""}
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        if op is _c.LITERAL or op is _c.IN:
            chars = {chr(av)} if op is _c.LITERAL else {c for c, _ in _class_chars(av, True)}
            if chars <= _whitespace():
                options = {" "}  # a whitespace character is part of a run, which the key spells " "
            elif chars & _whitespace() or len(chars) > 8 or not all(c.isascii() for c in chars):
                # Outside ASCII, re's case folding and str.lower() part ways (long s, final sigma).
                raise _Unknown
            else:
                options = {c.lower() for c in chars}
        elif op is _c.BRANCH:
            options = set().union(*(_key_strings(alternative) for alternative in av[1]))
        elif op is _c.SUBPATTERN:
            if av[1] & (_c.SRE_FLAG_UNICODE | _c.SRE_FLAG_LOCALE):
                raise _Unknown
            options = _key_strings(av[3])
        elif op in _REPEATS:
            low, high, sub = av
            one = _key_strings(sub)
            if one == {" "}:
                options = {" "} if low >= 1 else {"", " "}  # any run of whitespace is one space
            elif low == high and low <= 3:
                options = {""}
                for _ in range(low):
                    options = {a + b for a in options for b in one}
            elif (low, high) == (0, 1):
                options = one | {""}
            else:
                raise _Unknown
        else:
            raise _Unknown
        out = _joined(out, options)
    return out


def _joined(left: set[str], right: set[str]) -> set[str]:
    """Every string of ``left`` followed by one of ``right``, spelled as the key spells it."""
    out = {_SPACE_RUN.sub(" ", a + b) for a in left for b in right}
    if len(out) > _MAX_WORDS:
        raise _Unknown
    return out


def _key_groups(items: Any) -> list[frozenset[str]]:
    """Groups every match of the sequence ``items`` holds a string of (in the key's spelling)."""
    groups: list[frozenset[str]] = []
    # The strings of the current run of parts that together match one of a few strings.
    run: set[str] | None = None

    def close_run() -> None:
        if run is not None and min(len(s.strip()) for s in run) >= _MIN_KEY_STRING:
            groups.append(frozenset(run))

    for op, av in items:
        try:
            alone = _key_strings([(op, av)])
        except _Unknown:
            pass
        else:
            try:
                run = alone if run is None else _joined(run, alone)
            except _Unknown:  # too many strings with the run before it: a new run starts here
                close_run()
                run = alone
            continue
        close_run()
        run = None
        if op is _c.SUBPATTERN and not av[1] & (_c.SRE_FLAG_UNICODE | _c.SRE_FLAG_LOCALE):
            groups.extend(_key_groups(av[3]))
        elif op in _REPEATS and av[0] >= 1:
            groups.extend(_key_groups(av[2]))  # taken at least once
        elif op is _c.BRANCH:
            # A match goes through one alternative: a group made of one group from each
            # alternative holds for all of them. The one with the longest strings is taken.
            per_alternative = [_key_groups(alternative) for alternative in av[1]]
            if all(per_alternative):
                union = frozenset().union(*(max(g, key=lambda x: min(map(len, x))) for g in per_alternative))
                groups.append(union)
    close_run()
    return groups


def key_groups(pattern: str, flags: int = 0) -> tuple[frozenset[str], ...]:
    """Groups of strings such that the prefilter key of every text ``pattern`` matches holds one of each.

    The key is the text lower-cased with each run of whitespace as one space
    (:func:`ragguard.detectors.normalize.match_key`); the text is one the
    detector has normalised (NFKC and look-alike folding), as every view it
    scans is. A group comes from a stretch of the pattern that every match
    passes through and that can only match a few fixed strings, once
    lower-cased (``always\\s+(?:answer|reply)``: "always answer", "always
    reply"); alternatives give one group drawn from each. Strings keep to
    ASCII, where ``re``'s case folding and ``str.lower`` agree. Empty when
    nothing qualifies.
    """
    try:
        parsed = _p.parse(pattern, flags)
        return tuple(dict.fromkeys(_key_groups(parsed.data)))
    except Exception:  # noqa: BLE001 - _Unknown, or any surprise from the standard library's internal parser
        return ()
