"""Decoded views: encoded runs (base64, hex, URL escapes, entities, rot13) turned into text.

An instruction base64-encoded in a document is invisible to pattern matching
but not to a model asked to decode it. Every run that decodes to readable
text is offered as an extra :class:`~ragguard.detectors.normalize.View`,
mapped back to the encoded run as a whole, so a finding in decoded text
points at the encoded characters in the original.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import urllib.parse

from ragguard.detectors.memo import memoized
from ragguard.detectors.normalize import (
    NormalizedText,
    OffsetMap,
    TextBuilder,
    View,
    keyword_automaton,
    looks_like_text,
    normalize,
)
from ragguard.types import Span

__all__ = ["decoded_views", "views"]

_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)

_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
# Sixteen characters of the alphabet in a row, which every run above needs: searched
# for first, it rules most prose out in half the time the full pattern takes. Only
# the start of a run is tried (a run holds sixteen in a row iff it does from its start),
# so a failed try does not re-read the same word from each of its letters.
_B64_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16}")
# Hex of readable text: every byte of printable ASCII starts with a digit 2-7,
# which keeps the scan from trying every word that starts with a-f. Written
# ``\b[2-7]...`` with the word boundary checked by a lookbehind after the digit, so
# the pattern opens with a character class: ``re`` then skips to the next 2-7 in C
# instead of trying the pattern at every position (same matches, about half the time).
_HEX = re.compile(r"[2-7](?<=\b[2-7])[0-9A-Fa-f](?:[ :]?[2-7][0-9A-Fa-f]){7,}\b")
_HEX_ESCAPED = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){6,}|\b(?:0x[0-9A-Fa-f]{2}[ ,]*){6,}")
_URLENC = re.compile(r"(?<!\S)\S*%[0-9A-Fa-f]{2}\S*")
_ENTITY = re.compile(r"&#(?:[xX][0-9A-Fa-f]{1,6}|\d{1,7});|&[A-Za-z]{2,8};")
# rot13 of words attacks use; the rot13 view is built only when one appears.
_ROT13_HINTS = (
    "vtaber",
    "vafgehpg",
    "cebzcg",
    "flfgrz",
    "qvfertneq",
    "sbetrg",
    "lbh ner",
    "erirny",
    "cnffjbeq",
    "cerivbhf",
)


# One pass finds any hint: ten `in` scans of the lowered text took about 24 us a text
# on the audit bench texts, this about 10.
_ROT13_AUTOMATON = keyword_automaton(_ROT13_HINTS)


def _decode_b64(seg: str) -> str | None:
    raw = seg.replace("-", "+").replace("_", "/")
    raw += "=" * (-len(raw) % 4)
    try:
        data = base64.b64decode(raw, validate=True)
        return data.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _decode_hex(seg: str) -> str | None:
    digits = re.sub(r"\\x|0x|[\s,]", "", seg)
    try:
        return bytes.fromhex(digits).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


@memoized
def decoded_views(text: str) -> list[View]:
    """Views of encoded runs (base64, hex, URL escapes) decoded to text.

    Only runs that decode to readable text are offered; each maps back to the
    encoded run as a whole. HTML character references and rot13 give
    whole-text views (rot13 only when the rotated text looks like an attack).

    Args:
        text: The original text.

    Returns:
        Decoded views, possibly empty.
    """
    out: list[View] = []
    n = len(text)
    if len(text) >= 16:
        for m in _B64.finditer(text) if _B64_CANDIDATE.search(text) else ():
            decoded = _decode_b64(m.group())
            if decoded and looks_like_text(decoded):
                out.append(View(decoded, "base64", OffsetMap.whole(len(decoded), m.start(), m.end(), n)))
        hex_runs = list(_HEX.finditer(text))
        if "\\x" in text or "0x" in text:
            hex_runs += _HEX_ESCAPED.finditer(text)
        for m in hex_runs:
            decoded = _decode_hex(m.group())
            if decoded and looks_like_text(decoded):
                out.append(View(decoded, "hex", OffsetMap.whole(len(decoded), m.start(), m.end(), n)))
    if text.count("%") >= 3:
        for m in _URLENC.finditer(text):
            if m.group().count("%") < 3:
                continue
            decoded = urllib.parse.unquote_plus(m.group(), errors="strict") if _safe_unquote(m.group()) else ""
            if decoded and decoded != m.group() and looks_like_text(decoded):
                out.append(View(decoded, "url", OffsetMap.whole(len(decoded), m.start(), m.end(), n)))
    if "&" in text:
        entities = list(_ENTITY.finditer(text))
        if sum(1 for m in entities if m.group().startswith("&#")) >= 4:
            b = TextBuilder(n)
            cursor = 0
            for m in entities:
                b.add(text[cursor : m.start()], cursor, m.start() - cursor)
                b.add(html.unescape(m.group()), m.start(), m.end() - m.start())
                cursor = m.end()
            b.add(text[cursor:], cursor, n - cursor)
            out.append(b.build("html-entities"))
    if next(_ROT13_AUTOMATON.iter(text.lower()), None) is not None:
        # rot13 keeps every offset, so the identity map is exact.
        out.append(View(text.translate(_ROT13), "rot13", OffsetMap.identity(n)))
    return out


def _safe_unquote(seg: str) -> bool:
    try:
        urllib.parse.unquote_plus(seg, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


# Decoded runs that stand for text in a sentence or a table cell; shown in place as well.
_IN_PLACE_KINDS = frozenset({"base64", "hex", "url"})


def _in_place(text: str, runs: list[View]) -> View | None:
    """``text`` with its decoded runs put back where their encodings were, normalised.

    Rules that read context (a task in a table cell, a line above a greeting)
    cannot match a decoded run on its own; in place they can. The view's
    ``focus`` is the runs, so only matches that involve one of them count.
    One view holds every run: a view per run would rescan the text once each.
    """
    spans: list[Span] = []
    decoded: list[str] = []
    for run in sorted(runs, key=lambda r: r.offsets.orig_starts[0]):
        o = run.offsets
        a, b = o.orig_starts[0], o.orig_starts[0] + o.orig_lens[0]
        # Overlapping runs (a base64 run and URL escapes read from the same characters): the first wins.
        if len(o.orig_starts) == 1 and (not spans or a >= spans[-1].end):
            spans.append(Span(a, b))
            decoded.append(run.text)
    if not spans:
        return None
    builder = TextBuilder(len(text))
    cursor = 0
    # Each stretch between runs normalised on its own keeps its character-exact offsets
    # (normalising the joined text would map it onto the original as one block).
    for span, plain in [*zip(spans, decoded, strict=True), (Span(len(text), len(text)), "")]:
        between = normalize(text[cursor : span.start]).view
        bo = between.offsets
        for ns, nl, os_, ol in zip(bo.norm_starts, bo.norm_lens, bo.orig_starts, bo.orig_lens, strict=True):
            builder.add(between.text[ns : ns + nl], cursor + os_, ol)
        if span.end > span.start:
            builder.add(normalize(plain).view.text, span.start, span.end - span.start)
        cursor = span.end
    placed = builder.build("in-place")
    return View(placed.text, placed.kind, placed.offsets, tuple(spans))


def views(text: str) -> tuple[NormalizedText, list[View]]:
    """The normalised text and every view worth scanning.

    Args:
        text: Any string.

    Returns:
        ``(normalized, views)``: the normalisation result and the list of
        views, the normalised one first, then hidden payloads and decoded runs
        (each decoded run itself normalised, mapped to the encoded run, and
        for base64, hex and URL escapes also shown in place in the text).
    """
    norm = normalize(text)
    result: list[View] = [norm.view, *norm.hidden_payloads]
    decoded = decoded_views(text)
    for v in decoded:
        inner = normalize(v.text).view
        if inner.text == v.text:
            result.append(v)
        else:
            result.append(_compose(v, inner))
    placed = _in_place(text, [v for v in decoded if v.kind in _IN_PLACE_KINDS])
    if placed is not None:
        result.append(placed)
    return norm, result


def _compose(outer: View, inner: View) -> View:
    """Normalise a decoded view while keeping the decoded view's map to the original."""
    if len(outer.offsets.norm_starts) == 1 and outer.offsets.norm_lens[0] != outer.offsets.orig_lens[0]:
        o = outer.offsets
        return View(
            inner.text,
            outer.kind,
            OffsetMap.whole(len(inner.text), o.orig_starts[0], o.orig_starts[0] + o.orig_lens[0], o.orig_length),
        )
    # Offset-preserving outer views (rot13, entities): map through both.
    b = TextBuilder(outer.offsets.orig_length)
    io = inner.offsets
    for ns, nl, os_, ol in zip(io.norm_starts, io.norm_lens, io.orig_starts, io.orig_lens, strict=True):
        span = outer.offsets.to_original(os_, os_ + ol)
        if nl == ol and span.end - span.start == ol:
            b.add(inner.text[ns : ns + nl], span.start, ol)
        else:
            b.add(inner.text[ns : ns + nl], span.start, span.end - span.start)
    return b.build(outer.kind)
