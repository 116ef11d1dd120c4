"""Content a reader would not see: HTML/Markdown comments, CSS-hidden text, attributes.

A model reading a chunk sees every character; a person reviewing the page
sees the rendering. Text that is there for the model only (an HTML comment, a
``display:none`` block, white-on-white or zero-size text, an ``alt``/``title``
attribute) is the usual carrier of indirect prompt injection. The detector
flags the hiding itself (a weak cue: comments and hidden blocks have benign
uses) and runs the instruction rules over the hidden content, where a match
scores higher than the same words in plain sight.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ragguard.detectors.base import TextDetector
from ragguard.detectors.instructions import RuleMatch, all_matches, boost, explained_by, plain_matches, scan_text
from ragguard.detectors.normalize import normalize
from ragguard.types import Finding, Span

__all__ = ["HiddenContentDetector", "HiddenRegion", "hidden_regions"]

_COMMENT = re.compile(r"<!--(.*?)(?:-->|\Z)", re.S)
# One reading of the gap after "]:" (two \s* side by side were quadratic on a long run; found by fuzzing).
_MD_COMMENT = re.compile(r"^[ \t]*\[(?://|#|comment|_+|-+)\]:\s*(?:(?:#|<>)\s*)?[(\"'](.*)[)\"'][ \t]*$", re.M | re.I)
_OPEN_TAG = re.compile(r"<([a-zA-Z][\w:-]*)\b((?:[^<>\"']|\"[^\"]*\"|'[^']*')*)>")
_ATTR = re.compile(r"([a-zA-Z_:][\w:.-]*)(?:\s*=\s*(\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_TEXT_ATTRS = frozenset({"alt", "title", "aria-label", "aria-description", "placeholder", "value", "content"})
# Alt text holds no "[": a run of "![" then costs one pass, not one scan to the line's end from each.
_MD_ALT = re.compile(r"!\[([^\[\]\n]{12,})\]\(")
_MD_TITLE = re.compile(r"\]\([^)\s]+\s+\"([^\"\n]{12,})\"\)")
_TAGS_INSIDE = re.compile(r"<[^<>]*>")
# Markup a reader never sees: comment delimiters and tags. Blanked (same length) to read
# hidden text in its place among the visible text.
_MARKUP = re.compile(r"<!--|-->|<[^<>\n]{0,300}>")
_VOID = frozenset({"img", "input", "br", "hr", "meta", "link", "area", "base", "col", "embed", "source", "wbr"})
_LETTERS = re.compile(r"[^\W\d_]{2,}")

_HIDE_STYLE: tuple[tuple[str, re.Pattern[str], float], ...] = (
    ("display:none", re.compile(r"display\s*:\s*none", re.I), 0.3),
    ("visibility:hidden", re.compile(r"visibility\s*:\s*(?:hidden|collapse)", re.I), 0.3),
    ("zero font size", re.compile(r"font-size\s*:\s*0*\.?0+(?:px|pt|em|rem|%|vw|vh)?\s*(?:;|$|!)", re.I), 0.35),
    ("zero opacity", re.compile(r"opacity\s*:\s*0*\.?0+\s*(?:;|$|!)", re.I), 0.35),
    ("off-screen position", re.compile(r"(?:left|top|right|text-indent|margin-left)\s*:\s*-\d{3,}", re.I), 0.35),
    ("zero-size box", re.compile(r"(?:^|;)\s*(?:max-)?(?:height|width)\s*:\s*0(?:px)?\s*(?:;|$|!)", re.I), 0.3),
    ("clipped away", re.compile(r"clip(?:-path)?\s*:\s*(?:rect\(\s*0|inset\(\s*(?:50|100)%)", re.I), 0.3),
)
_COLOR = re.compile(r"(?:^|;|\s)color\s*:\s*([^;!]+)", re.I)
_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*([^;!]+)", re.I)
_NAMED = {"white": "ffffff", "black": "000000", "red": "ff0000", "transparent": "transparent"}


@dataclass(frozen=True)
class HiddenRegion:
    """A stretch of text a reader would not see.

    Attributes:
        how: What hides it (``HTML comment``, ``display:none``, ``alt attribute``...).
        code: Stable rule code of the hiding.
        score: Score of the hiding alone.
        span: The hidden content in the original text.
    """

    how: str
    code: str
    score: float
    span: Span


def _norm_color(value: str) -> str:
    v = value.strip().lower().replace(" ", "")
    if v in _NAMED:
        return _NAMED[v]
    m = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", v)
    if m:
        h = m.group(1)
        return "".join(c * 2 for c in h) if len(h) == 3 else h
    m = re.fullmatch(r"rgba?\((\d+),(\d+),(\d+)(?:,[\d.]+)?\)", v)
    if m:
        # Any component of four or more significant digits is past 255 (and int() refuses 4,301 digits).
        return "".join(f"{255 if len(x.lstrip('0')) > 3 else min(int(x), 255):02x}" for x in m.groups())
    return v


def _style_hiding(style: str, attrs: dict[str, str]) -> tuple[str, float] | None:
    for how, rx, score in _HIDE_STYLE:
        if rx.search(style):
            return how, score
    fg = _COLOR.search(style)
    color = _norm_color(fg.group(1)) if fg else _norm_color(attrs.get("color", "")) if "color" in attrs else ""
    if color:
        bg = _BACKGROUND.search(style)
        bg_color = (
            _norm_color(bg.group(1)) if bg else _norm_color(attrs.get("bgcolor", "")) if "bgcolor" in attrs else ""
        )
        if color == "transparent":
            return "transparent text", 0.35
        if bg_color and bg_color == color:
            return "text coloured like its background", 0.4
        if not bg_color and color == "ffffff":
            return "white text (invisible on a white page)", 0.3
    return None


def _parse_attrs(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        val = m.group(3) if m.group(3) is not None else m.group(4) if m.group(4) is not None else m.group(5) or ""
        out[m.group(1).lower()] = val
    return out


def _element_end(text: str, tag: str, start: int) -> int:
    """Offset where the element opened just before ``start`` closes (nesting-aware)."""
    rx = re.compile(rf"<(/?){re.escape(tag)}\b[^>]*>", re.I)
    depth = 1
    for m in rx.finditer(text, start):
        if m.group(1):
            depth -= 1
            if depth == 0:
                return m.start()
        elif not m.group().endswith("/>"):
            depth += 1
    return len(text)


def hidden_regions(text: str) -> list[HiddenRegion]:
    """Every region of ``text`` a reader of the rendered page would not see.

    Args:
        text: Any string (HTML, Markdown or plain text).

    Returns:
        Hidden regions in document order; empty for plain text.
    """
    out: list[HiddenRegion] = []
    if "<" in text:
        for m in _COMMENT.finditer(text):
            prose = len(_LETTERS.findall(m.group(1)))
            if prose:
                out.append(HiddenRegion("HTML comment", "RG-HID-001", 0.2 if prose >= 8 else 0.1, Span(*m.span(1))))
        for m in _OPEN_TAG.finditer(text):
            tag = m.group(1).lower()
            attrs = _parse_attrs(m.group(2))
            for name in sorted(_TEXT_ATTRS & attrs.keys()):  # sorted: the same order in every process
                val = attrs[name]
                if len(_LETTERS.findall(val)) >= 3:
                    pos = text.find(val, m.start(), m.end())
                    if pos >= 0:
                        out.append(HiddenRegion(f"{name} attribute", "RG-HID-003", 0.0, Span(pos, pos + len(val))))
            hiding = _style_hiding(attrs.get("style", ""), attrs)
            if hiding is None and "hidden" in attrs:
                hiding = ("hidden attribute", 0.25)
            if hiding is None and tag == "input" and attrs.get("type", "").lower() == "hidden":
                continue  # its value attribute was already taken as attribute text
            if hiding is None or tag in _VOID:
                continue
            end = _element_end(text, tag, m.end())
            inner = text[m.end() : end]
            if _LETTERS.search(_TAGS_INSIDE.sub(" ", inner)):
                out.append(HiddenRegion(hiding[0], "RG-HID-002", hiding[1], Span(m.end(), end)))
    if "[" in text:
        for m in _MD_COMMENT.finditer(text):
            if _LETTERS.search(m.group(1)):
                out.append(HiddenRegion("Markdown comment", "RG-HID-001", 0.2, Span(*m.span(1))))
        for rx, how in ((_MD_ALT, "image alt text"), (_MD_TITLE, "link title")):
            for m in rx.finditer(text):
                out.append(HiddenRegion(how, "RG-HID-003", 0.0, Span(*m.span(1))))
    return out


def _blank_markup(text: str) -> str:
    """``text`` with comment delimiters and tags turned into spaces, offsets unchanged."""
    return _MARKUP.sub(lambda m: " " * len(m.group()), text)


def _noisy_or(scores: list[float]) -> float:
    prod = 1.0
    for s in scores:
        prod *= 1.0 - s
    return 1.0 - prod


class HiddenContentDetector(TextDetector):
    """Flags hidden HTML/Markdown content and instructions inside it.

    Args:
        hidden_boost: Fraction of remaining doubt removed from the instruction
            score when the instruction sits in hidden content.
    """

    span_local = True

    name = "hidden"

    def __init__(self, hidden_boost: float = 0.5) -> None:
        self.hidden_boost = hidden_boost

    def detect_text(self, text: str) -> list[Finding]:
        """Findings for hidden regions of one text and the instructions they carry."""
        if not isinstance(text, str) or not text or ("<" not in text and "[" not in text):
            return []
        findings: list[Finding] = []
        in_place: list[RuleMatch] | None = None
        scanned: list[Span] = []
        for region in hidden_regions(text):
            s, e = region.span.start, region.span.end
            # A region inside one already read alone (nested or unclosed hidden elements) adds
            # nothing to read: its text was scanned with the outer one. Reading each again made
            # thousands of unclosed elements quadratic.
            inside = any(o.start <= s and e <= o.end for o in scanned)
            matches: list[RuleMatch] = []
            if not inside:
                scanned.append(region.span)
                # Tags inside the region become spaces so offsets stay exact.
                content = _TAGS_INSIDE.sub(lambda m: " " * len(m.group()), text[s:e])
                matches = [
                    dataclasses.replace(m, span=Span(s + m.span.start, s + m.span.end)) for m in scan_text(content)
                ]
            # The same text read in its place (markup blanked): rules that need context, such
            # as a task in a table cell, see the cell. A match counts for the region if it
            # reaches into it and the plain text does not show it already (a visible sentence
            # running on into a comment is the visible sentence's).
            if in_place is None:
                explained = explained_by(plain_matches(text))  # shared with the instruction detector
                in_place = [m for m in all_matches(normalize(_blank_markup(text)).view) if not explained(m)]
            seen = {m.rule.code for m in matches}
            for m in in_place:
                if m.span.overlaps(region.span) and m.rule.code not in seen:
                    seen.add(m.rule.code)
                    matches.append(m)
            if region.score > 0:
                findings.append(
                    Finding(
                        self.name,
                        region.code,
                        region.score,
                        f"Content hidden from readers by {region.how}.",
                        region.span,
                    )
                )
            if matches:
                best = max(matches, key=lambda mt: mt.rule.weight)
                base = _noisy_or(sorted({mt.rule.code: mt.rule.weight for mt in matches}.values()))
                score = round(boost(base, self.hidden_boost), 4)
                span = best.span
                codes = ", ".join(sorted({mt.rule.code for mt in matches}))
                findings.append(
                    Finding(
                        self.name,
                        "RG-HID-010",
                        score,
                        f"Instruction-like content hidden by {region.how} ({codes}): {best.rule.why}.",
                        span,
                    )
                )
        return findings
