"""Query-targeting: a passage built to be retrieved for one question.

PoisonedRAG's black-box attack prepends the target question to an
LLM-written, answer-shaped passage, so that the passage ranks first for that
question. The tell is structural, not lexical: the chunk *opens with a search
query* (an interrogative clause, or a clause in lower-case search-box form)
that is glued to a passage which repeats the query's terms and answers it.
Ordinary documents open with a title, a heading or a sentence; FAQ pages put
a question mark and a line break after the question.

Cues (combined by noisy-OR into one finding):

* the opening clause is a question, or is written in search-query form (no
  capital letters at all, although it is followed by normal prose);
* the question is punctuated as a statement (``.`` instead of ``?``);
* no space after the clause's full stop: two texts concatenated;
* the rest of the passage repeats most of the clause's content words.
"""

from __future__ import annotations

import re

from ragguard.detectors.base import TextDetector
from ragguard.types import Finding, Span

_INTERROGATIVE = re.compile(
    r"(?:who|what|when|where|which|whom|whose|why|how|is|are|was|were|do|does|did|can|could|will|would|"
    r"should|has|have|had)\b",
    re.IGNORECASE,
)
# The opening clause: up to the first sentence end within 250 characters, on one line.
_LEAD = re.compile(r"\A\s*(?P<lead>[^\n.?!]{12,250}?)(?P<end>[.?!])(?P<gap>[ \t]*)(?P<next>[\"'“(]?[A-Z])")
# Search queries are words; code ("nn.Embedding(2, 5)") and markup are not.
_NOT_QUERY = re.compile(r"[`=(){}\[\]<>_/\\|$#*@]")
_CONTENT_WORD = re.compile(r"[a-z0-9][a-z0-9'-]{3,}")
_STOP = frozenset(
    [
        "that",
        "this",
        "with",
        "from",
        "which",
        "what",
        "when",
        "where",
        "there",
        "their",
        "they",
        "have",
        "been",
        "were",
        "does",
        "into",
        "than",
        "then",
        "them",
        "about",
        "also",
        "only",
        "such",
        "these",
        "those",
        "most",
        "more",
        "some",
        "many",
        "much",
        "other",
        "over",
        "under",
        "after",
        "before",
        "while",
    ]
)

W_QUESTION_AS_STATEMENT = 0.35
W_QUESTION = 0.15
W_QUERY_FORM = 0.25
W_STITCHED = 0.30
W_ECHO = 0.30


def _dotted_name(text: str, m: re.Match[str]) -> bool:
    """Whether the lead's full stop sits inside a dotted name (``httpx.AsyncClient(...)``), not between two texts.

    A name runs on both sides of the dot, and the word after it carries code
    punctuation; a glued sentence ("...with reba.Does He Love You is...") does not.
    """
    if m.group("end") != "." or not text[m.end("lead") - 1 : m.end("lead")].isalnum():
        return False
    after = text[m.start("next") : m.start("next") + 200].split(maxsplit=1)[0]
    return (after[0].isalpha() or after[0] == "_") and _NOT_QUERY.search(after) is not None


class QueryTargetingDetector(TextDetector):
    """Flags chunks that open with a search query glued to an answer-shaped passage.

    Args:
        echo_fraction: Share of the opening clause's content words that must
            reappear in the rest for the "passage answers the query" cue.
    """

    name = "query_targeting"

    def __init__(self, echo_fraction: float = 0.5) -> None:
        self.echo_fraction = echo_fraction

    def detect_text(self, text: str) -> list[Finding]:
        """One finding when the opening clause looks like a pasted search query."""
        m = _LEAD.match(text)
        if m is None:
            return []
        lead = m.group("lead")
        words = lead.split()
        if len(words) < 3 or len(words) > 40 or _NOT_QUERY.search(lead):
            return []
        interrogative = _INTERROGATIVE.match(lead.lstrip()) is not None
        query_form = lead == lead.lower() and any(c.isalpha() for c in lead)
        if not (interrogative or query_form):
            return []
        cues: list[tuple[float, str]] = []
        if interrogative:
            if m.group("end") == ".":
                cues.append((W_QUESTION_AS_STATEMENT, "a question punctuated as a statement"))
            else:
                cues.append((W_QUESTION, "a question"))
        if query_form:
            cues.append((W_QUERY_FORM, "written in lower-case search-query form"))
        if m.group("gap") == "" and not _dotted_name(text, m):
            cues.append((W_STITCHED, "glued to the next sentence without a space"))
        rest = text[m.end("end") :].lower()
        terms = {w for w in _CONTENT_WORD.findall(lead.lower()) if w not in _STOP}
        if terms:
            echoed = sum(1 for w in terms if w in rest) / len(terms)
            if echoed >= self.echo_fraction:
                cues.append((W_ECHO, f"{echoed:.0%} of its terms repeated by the passage"))
        if len(cues) < 2:  # one cue alone is ordinary text
            return []
        keep = 1.0
        for w, _ in cues:
            keep *= 1.0 - w
        start = m.start("lead")
        return [
            Finding(
                detector=self.name,
                code="RG-QRY-001",
                score=round(1.0 - keep, 4),
                explanation="The chunk opens with what looks like a pasted search query ("
                + "; ".join(why for _, why in cues)
                + "), the shape of a passage built to be retrieved for one question.",
                span=Span(start, m.end("end")),
            )
        ]
