"""Text normalisation and decoding before rules are applied.

Attackers hide instructions from pattern matching with invisible or look-alike
characters (zero-width spaces inside words, Cyrillic letters that look Latin,
Unicode tag characters that render as nothing) and with encodings (base64,
hex, URL escapes, HTML character references, rot13). This module turns a text
into a normalised *view* that rules can read (:mod:`ragguard.detectors.decoders`
adds the decoded views), and keeps for every view a map back to the
original text, so that findings carry spans in the text a reviewer sees.

It also reports the hiding itself as :class:`Hiding` records; the
:class:`ObfuscationDetector` turns them into findings.
"""

from __future__ import annotations

import bisect
import codecs
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from ragguard.detectors.base import TextDetector
from ragguard.detectors.memo import memoized
from ragguard.types import Finding, Span

__all__ = [
    "Hiding",
    "NormalizedText",
    "ObfuscationDetector",
    "OffsetMap",
    "TextBuilder",
    "View",
    "collapse_whitespace",
    "hiding_findings",
    "looks_like_text",
    "match_key",
    "normalize",
    "rot13",
]

# Characters removed outright: zero-width and joiner controls, soft hyphen,
# word joiner, invisible operators, BOM, Mongolian vowel separator, Hangul fillers.
_ZERO_WIDTH = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u3164\ufeff\uffa0"
)
# Bidirectional embedding/override/isolate controls ("Trojan Source").
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_BLACK_FLAG = "\U0001f3f4"  # subdivision flags (England, Scotland) legitimately use tags

# Look-alike letters folded to the Latin letter they imitate. NFKC already
# folds fullwidth and mathematical alphanumerics; these survive it.
_HOMOGLYPHS: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ү": "Y", "Ԍ": "G",
    # Greek
    "α": "a", "ο": "o", "ν": "v", "ρ": "p", "ι": "i", "κ": "k", "υ": "u", "ϲ": "c",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin-extended and Armenian look-alikes
    "ı": "i", "ɑ": "a", "ɩ": "i", "ᴏ": "o", "օ": "o", "ս": "u", "ց": "g", "ⅼ": "l",
    # Lowercases to two characters ("i" + a combining dot), which keyword prefilters miss.
    "İ": "I",
}  # fmt: skip
_CONFUSABLE_NONLATIN = frozenset(
    c for c in _HOMOGLYPHS if unicodedata.name(c, "").startswith(("CYRILLIC", "GREEK", "ARMENIAN"))
)

# Only non-ASCII runs need per-character work; ASCII stretches are copied whole.
_SPECIAL = re.compile(r"[^\x00-\x7f]+")
_WS_RUN = re.compile(r"\s+")


@dataclass(frozen=True)
class OffsetMap:
    """Maps offsets in a derived text back to the original text.

    The derived text is a sequence of segments; segment ``i`` covers
    ``[norm_starts[i], norm_starts[i] + norm_lens[i])`` in the derived text and
    ``[orig_starts[i], orig_starts[i] + orig_lens[i])`` in the original. A
    segment whose lengths are equal maps character by character; any other
    segment maps as a whole (e.g. a ligature expanded to two letters, or an
    encoded run decoded to text).
    """

    norm_starts: tuple[int, ...]
    norm_lens: tuple[int, ...]
    orig_starts: tuple[int, ...]
    orig_lens: tuple[int, ...]
    orig_length: int

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        """The map of a text onto itself."""
        return cls((0,), (length,), (0,), (length,), length)

    @classmethod
    def whole(cls, derived_length: int, orig_start: int, orig_end: int, orig_length: int) -> OffsetMap:
        """Map every offset of a derived text onto one original range (decoded runs)."""
        return cls((0,), (derived_length,), (orig_start,), (orig_end - orig_start,), orig_length)

    def _segment(self, pos: int) -> int:
        i = bisect.bisect_right(self.norm_starts, pos) - 1
        return max(i, 0)

    def to_original(self, start: int, end: int) -> Span:
        """Original span covering the derived range ``[start, end)``."""
        if not self.norm_starts:
            return Span(0, 0)
        i = self._segment(start)
        ns, nl, os_, ol = self.norm_starts[i], self.norm_lens[i], self.orig_starts[i], self.orig_lens[i]
        o_start = os_ + min(start - ns, ol) if nl == ol else os_
        last = max(end - 1, start)
        j = self._segment(last)
        ns, nl, os_, ol = self.norm_starts[j], self.norm_lens[j], self.orig_starts[j], self.orig_lens[j]
        o_end = os_ + min(last - ns + 1, ol) if nl == ol else os_ + ol
        if end <= start:
            o_end = o_start
        o_start = min(max(o_start, 0), self.orig_length)
        o_end = min(max(o_end, o_start), self.orig_length)
        return Span(o_start, o_end)


@dataclass(frozen=True)
class Hiding:
    """One kind of hiding found while normalising.

    Attributes:
        kind: ``zero-width``, ``bidi``, ``tags``, ``variation-selectors``,
            ``mixed-script`` or ``styled-letters``.
        count: How many characters (or words, for ``mixed-script``) were involved.
        span: First to last occurrence in the original text.
        in_word: Whether at least one occurrence sits inside a Latin word.
    """

    kind: str
    count: int
    span: Span
    in_word: bool = False


@dataclass(frozen=True)
class View:
    """A text rules can read, and how its offsets map to the original.

    Attributes:
        text: The text to scan.
        kind: ``normalized``, ``rot13``, ``base64``, ``hex``, ``url``,
            ``html-entities``, ``tags`` or ``variation-selectors``.
        offsets: Map from offsets in ``text`` to offsets in the original.
        focus: For a view that shows decoded runs in their place within the
            rest of the text, the runs' spans in the original: only matches
            that overlap one of them say something the other views do not.
    """

    text: str
    kind: str
    offsets: OffsetMap
    focus: tuple[Span, ...] | None = None

    @property
    def decoded(self) -> bool:
        """Whether the view was decoded from an encoding (not just normalised)."""
        return self.kind not in ("normalized",)


@dataclass(frozen=True)
class NormalizedText:
    """The normalised view of a text plus the hiding found on the way."""

    view: View
    hidings: tuple[Hiding, ...] = field(default=())
    hidden_payloads: tuple[View, ...] = field(default=())


class TextBuilder:
    """Accumulates derived text and its offset segments (merging identity runs).

    Args:
        orig_length: Length of the original text the segments point into.
    """

    def __init__(self, orig_length: int) -> None:
        self.parts: list[str] = []
        self.ns: list[int] = []
        self.nl: list[int] = []
        self.os: list[int] = []
        self.ol: list[int] = []
        self.pos = 0
        self.orig_length = orig_length

    def add(self, text: str, orig_start: int, orig_len: int) -> None:
        """Append ``text``, which stands for ``orig_len`` original characters at ``orig_start``."""
        n = len(text)
        if n == 0:
            return
        if (
            n == orig_len
            and self.ns
            and self.nl[-1] == self.ol[-1]
            and self.ns[-1] + self.nl[-1] == self.pos
            and self.os[-1] + self.ol[-1] == orig_start
        ):
            self.nl[-1] += n
            self.ol[-1] += n
        else:
            self.ns.append(self.pos)
            self.nl.append(n)
            self.os.append(orig_start)
            self.ol.append(orig_len)
        self.parts.append(text)
        self.pos += n

    def build(self, kind: str) -> View:
        """The accumulated text as a :class:`View` of the given kind."""
        offsets = OffsetMap(tuple(self.ns), tuple(self.nl), tuple(self.os), tuple(self.ol), self.orig_length)
        return View("".join(self.parts), kind, offsets)


class _HidingLog:
    """Collects occurrences of hiding characters by kind (local to one call)."""

    def __init__(self) -> None:
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.count: dict[str, int] = {}
        self.in_word: dict[str, bool] = {}
        self.confusables = False
        # The word the last look-alike belonged to (its end) and whether it passes for Latin.
        self.word_end = -1
        self.word_latin = False

    def note(self, kind: str, start: int, end: int, in_word: bool = False) -> None:
        self.first.setdefault(kind, start)
        self.last[kind] = end
        self.count[kind] = self.count.get(kind, 0) + 1
        self.in_word[kind] = self.in_word.get(kind, False) or in_word

    def result(self) -> tuple[Hiding, ...]:
        return tuple(Hiding(k, self.count[k], Span(self.first[k], self.last[k]), self.in_word[k]) for k in self.first)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def _fold_char(ch: str) -> str:
    """NFKC plus homoglyph folding for one non-ASCII character."""
    folded = _HOMOGLYPHS.get(ch)
    if folded is not None:
        return folded
    out = unicodedata.normalize("NFKC", ch)
    if len(out) == 1 and out in _HOMOGLYPHS:
        return _HOMOGLYPHS[out]
    return out


def _decode_variation_bytes(chars: str) -> str | None:
    """Decode a run of variation selectors used as a byte channel ("emoji smuggling")."""
    data = bytearray()
    for ch in chars:
        cp = ord(ch)
        if 0xFE00 <= cp <= 0xFE0F:
            data.append(cp - 0xFE00)
        elif 0xE0100 <= cp <= 0xE01EF:
            data.append(cp - 0xE0100 + 16)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if looks_like_text(text, min_len=4) else None


@memoized
def normalize(text: str) -> NormalizedText:
    """Normalise ``text`` for rule matching, keeping a map to original offsets.

    NFKC, zero-width and bidi controls removed, Unicode tag characters decoded
    to the ASCII they hide, look-alike letters folded to Latin, exotic spaces
    turned into plain spaces. Runs of whitespace are kept as they are, so
    ASCII text maps onto itself without per-character work; whitespace is
    collapsed where matching needs it (:func:`match_key` for keyword
    prefilters, and every rule pattern accepts any run of whitespace).

    Args:
        text: Any string.

    Returns:
        The normalised view, the hiding found, and views of hidden payloads
        (tag-character and variation-selector runs) decoded on their own.
    """
    n = len(text)
    out = TextBuilder(n)
    log = _HidingLog()
    payloads: list[View] = []
    cursor = 0
    for m in _SPECIAL.finditer(text):
        s, e = m.span()
        if s > cursor:
            out.add(text[cursor:s], cursor, s - cursor)
        _normalize_run(text, s, e, out, log, payloads)
        cursor = e
    if cursor < n:
        out.add(text[cursor:], cursor, n - cursor)
    hidings = list(log.result())
    if log.confusables:
        hidings.extend(_mixed_script_words(text))
    return NormalizedText(out.build("normalized"), tuple(hidings), tuple(payloads))


def _normalize_run(text: str, s: int, e: int, out: TextBuilder, log: _HidingLog, payloads: list[View]) -> None:
    """Normalise one run of non-ASCII characters ``text[s:e]`` into ``out``."""
    i = s
    prev_kept = text[s - 1] if s > 0 else ""
    while i < e:
        ch = text[i]
        cp = ord(ch)
        if _TAG_FIRST <= cp <= _TAG_LAST:
            j = i
            while j < e and _TAG_FIRST <= ord(text[j]) <= _TAG_LAST:
                j += 1
            if prev_kept == _BLACK_FLAG:
                i = j  # part of a subdivision flag emoji; no text is hidden there
                continue
            hidden = "".join(chr(ord(c) - _TAG_FIRST) for c in text[i:j] if 0xE0020 <= ord(c) <= 0xE007E)
            if hidden:
                log.note("tags", i, j, in_word=len(hidden) > 1)
                # Decoded tags join the text (a model reads them) and are also
                # offered alone, so the payload is scanned without its cover.
                out.add(hidden, i, j - i)
                payloads.append(View(hidden, "tags", OffsetMap.whole(len(hidden), i, j, len(text))))
            i = j
            continue
        if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
            j = i
            while j < len(text) and (0xFE00 <= ord(text[j]) <= 0xFE0F or 0xE0100 <= ord(text[j]) <= 0xE01EF):
                j += 1
            j = min(j, e)
            if j - i >= 4:
                decoded = _decode_variation_bytes(text[i:j])
                log.note("variation-selectors", i, j, in_word=decoded is not None)
                if decoded:
                    payloads.append(
                        View(decoded, "variation-selectors", OffsetMap.whole(len(decoded), i, j, len(text)))
                    )
            i = j
            continue
        if ch in _ZERO_WIDTH:
            before = text[i - 1] if i > 0 else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            # Inside a Latin word it only serves to break pattern matching;
            # between non-Latin letters (Khmer, Persian) it is ordinary spelling.
            in_word = before.isascii() and before.isalpha() and after.isascii() and after.isalpha()
            log.note("zero-width", i, i + 1, in_word=in_word)
            i += 1
            continue
        if ch in _BIDI:
            log.note("bidi", i, i + 1)
            i += 1
            continue
        cat = unicodedata.category(ch)
        if cat == "Mn" and prev_kept.isascii() and prev_kept.isalpha():
            i += 1  # combining marks stacked on Latin letters (diacritic/zalgo noise)
            continue
        if cat.startswith("Z"):
            out.add(" ", i, 1)
            prev_kept = " "
            i += 1
            continue
        if ch in _CONFUSABLE_NONLATIN:
            log.confusables = True
            if i >= log.word_end:  # one decision per word, kept across runs: a word costs its length once
                log.word_end, log.word_latin = _passes_for_latin(text, i)
            folded = _fold_char(ch) if log.word_latin else ch
        else:
            folded = _fold_char(ch)
        if folded != ch and folded.isascii() and folded.isalpha() and ch not in _HOMOGLYPHS:
            log.note("styled-letters", i, i + 1)
        out.add(folded, i, 1)
        prev_kept = ch
        i += 1


def _passes_for_latin(text: str, i: int) -> tuple[int, bool]:
    """Whether the Cyrillic/Greek look-alike at ``text[i]`` stands in for a Latin letter.

    Returns ``(end of its word, decision)``; the decision holds for the whole word.

    It does when its word also holds Latin letters ("іgnore"), or when every
    letter of the word is a look-alike and the text around it is Latin ("асе"
    in an English sentence). In a Russian or Greek word it is just a letter:
    folding "все" to "bce" would garble real text for every rule that reads it.
    """
    a = i
    while a > 0 and text[a - 1].isalpha():
        a -= 1
    z = i + 1
    while z < len(text) and text[z].isalpha():
        z += 1
    word = text[a:z]
    if any(c.isascii() for c in word):
        return z, True
    if not all(c in _HOMOGLYPHS for c in word):
        return z, False
    around = text[max(0, a - _CONTEXT) : a] + text[z : z + _CONTEXT]
    latin = sum(c.isascii() and c.isalpha() for c in around)
    return z, latin > sum(c.isalpha() and not c.isascii() for c in around)


_CONTEXT = 40
_WORD = re.compile(r"[^\W\d_]{2,}")


def _mixed_script_words(text: str) -> list[Hiding]:
    """Words mixing Latin letters with Cyrillic/Greek look-alikes."""
    if text.isascii():
        return []
    first = last = -1
    count = 0
    for m in _WORD.finditer(text):
        word = m.group()
        if word.isascii():
            continue
        has_latin = any(c.isascii() for c in word)
        has_fake = any(c in _CONFUSABLE_NONLATIN for c in word)
        if has_latin and has_fake:
            count += 1
            if first < 0:
                first = m.start()
            last = m.end()
    if count == 0:
        return []
    return [Hiding("mixed-script", count, Span(first, last), True)]


def looks_like_text(s: str, min_len: int = 8) -> bool:
    """Whether a decoded string reads as natural-language text."""
    if len(s) < min_len or any(not c.isprintable() and c not in "\n\r\t" for c in s):
        return False
    letters = sum(c.isalpha() for c in s)
    spaces = s.count(" ")
    return spaces >= 1 and (letters + spaces) / len(s) >= 0.75


#: Decoded words from which encoded prose alone warrants review.
ENCODED_PROSE_WORDS = 8
ENCODED_PROSE_SCORE = 0.5

_HIDING_RULES: dict[str, tuple[str, float, float, str]] = {
    # kind: (code, score when inside words / decodable, score otherwise, why)
    "tags": ("RG-OBF-001", 0.85, 0.4, "Unicode tag characters hide ASCII text that readers cannot see"),
    "zero-width": ("RG-OBF-002", 0.45, 0.05, "zero-width characters inside words break up text to evade filters"),
    "mixed-script": ("RG-OBF-003", 0.45, 0.45, "words mix Latin letters with Cyrillic/Greek look-alikes"),
    "bidi": ("RG-OBF-004", 0.3, 0.3, "bidirectional control characters can reorder what a reader sees"),
    "variation-selectors": ("RG-OBF-005", 0.85, 0.3, "a run of variation selectors carries hidden bytes"),
    "styled-letters": ("RG-OBF-006", 0.15, 0.15, "fullwidth or mathematical letters imitate plain text"),
}


def hiding_findings(hidings: tuple[Hiding, ...], detector: str = "obfuscation") -> list[Finding]:
    """Turn :class:`Hiding` records into findings.

    Args:
        hidings: What :func:`normalize` reported.
        detector: Detector name the findings carry.

    Returns:
        One finding per kind of hiding that is suspicious at all.
    """
    out: list[Finding] = []
    for h in hidings:
        code, strong, weak, why = _HIDING_RULES[h.kind]
        score = strong if h.in_word else weak
        if h.kind == "zero-width" and h.in_word and h.count >= 3:
            score = 0.6  # many breaks inside words: deliberate, not a stray paste
        if h.kind == "mixed-script" and h.count >= 2:
            score = 0.6
        if score < 0.1:
            continue
        out.append(Finding(detector, code, score, f"{why} ({h.count} found).", h.span))
    return out


class ObfuscationDetector(TextDetector):
    """Flags the hiding itself: invisible characters, look-alike letters, tag smuggling.

    Whether the hidden text is an instruction is the instruction detector's job
    (it scans the same normalised and decoded views).
    """

    name = "obfuscation"

    def detect_text(self, text: str) -> list[Finding]:
        """Findings for the hiding characters in ``text``, and for prose hidden in an encoding."""
        if not isinstance(text, str) or not text:
            return []
        out = [] if text.isascii() else hiding_findings(normalize(text).hidings, self.name)
        out.extend(self._encoded_prose(text))
        return out

    def _encoded_prose(self, text: str) -> list[Finding]:
        """Readable sentences stored base64- or hex-encoded: nobody writes a document that way.

        Encoded binary (images, keys, hashes) does not decode to prose and is left
        alone; a short encoded phrase (a tutorial's ``echo hello | base64``) is a
        weak cue, a whole encoded sentence a strong one.
        """
        from ragguard.detectors.decoders import decoded_views  # decoders builds on this module

        out: list[Finding] = []
        for view in decoded_views(text):
            if view.kind not in ("base64", "hex"):
                continue
            words = len(view.text.split())
            span = view.offsets.to_original(0, len(view.text))
            out.append(
                Finding(
                    self.name,
                    "RG-OBF-007",
                    ENCODED_PROSE_SCORE if words >= ENCODED_PROSE_WORDS else 0.2,
                    f"A {view.kind} run decodes to {words} words of readable text: content hidden from readers "
                    "and filters but not from a model asked to decode it.",
                    span,
                )
            )
        return out


def collapse_whitespace(text: str) -> str:
    """Collapse runs of whitespace to one space (helper for explanations)."""
    return _WS_RUN.sub(" ", text).strip()


def match_key(text: str) -> str:
    """Lowercased text with whitespace runs collapsed, for keyword prefilters.

    The same string as ``re.sub(r"\\s+", " ", text.lower())``: ``str.split`` and
    the regular expression's ``\\s`` agree on every code point, and a leading or
    trailing run still becomes one space (anchors such as ``"hi "`` end in one).
    Split and join run in C, about three times faster than the substitution on
    this path, which every view of every text takes once.
    """
    low = text.lower()
    core = " ".join(low.split())
    if not core:
        return " " if low else ""
    return (" " if low[0].isspace() else "") + core + (" " if low[-1].isspace() else "")


def keyword_automaton(words: Iterable[str]) -> ahocorasick.Automaton:
    """An Aho-Corasick automaton over ``words`` (each its own value): one pass finds them all, overlaps included.

    Read-only once built: searching only reads it (each ``iter()`` keeps its own
    state), so threads may share it; nothing may add words to it afterwards.
    """
    automaton = ahocorasick.Automaton()
    for w in words:
        automaton.add_word(w, w)
    automaton.make_automaton()
    return automaton


def rot13(text: str) -> str:
    """rot13 of ``text`` (exposed for tests and the benchmark)."""
    return codecs.encode(text, "rot13")
