"""Token artefacts: text that was optimised token by token, then decoded.

White-box corpus-poisoning attacks (HotFlip and its successors against
BERT-style retrievers) search over the *retriever's tokens*; the passage they
plant is the tokenizer's decoding of the winning token ids. Uncased WordPiece
decoding leaves marks ordinary documents do not have:

* no capital letter anywhere in a passage of prose, with punctuation split off
  by spaces (``belle ' s forest , where``): decoded token text;
* WordPiece continuation pieces left in the text (``##ing``).

Decoded-token prose is not how people write knowledge-base documents, so in
an untrusted passage it alone warrants review (0.5); a stray WordPiece
fragment is weaker and counts with other cues.
"""

from __future__ import annotations

import re

from ragguard.detectors.base import TextDetector
from ragguard.types import Finding, Span

_PUNCT = re.compile(r"[.,;:!?')(]")
_SPLIT_PUNCT = re.compile(r"(?<= )[.,;:!?')](?= |$)|(?<= )\( ")
_WORDPIECE = re.compile(r"(?:^|\s)##[a-z0-9]+")

MIN_LETTERS = 40
MIN_PUNCT = 3

W_DECODED = 0.5
W_WORDPIECE = 0.35


class TokenArtifactDetector(TextDetector):
    """Flags passages that read as decoded, token-optimised text."""

    name = "token_artifacts"

    def detect_text(self, text: str) -> list[Finding]:
        """Findings for the decoding marks present in ``text``."""
        out: list[Finding] = []
        # Ordinary prose has a capital letter early: that ends the check before any counting.
        has_capital = any(c.isupper() and c.isalpha() for c in text)
        punct = [] if has_capital else _PUNCT.findall(text)
        if not has_capital and len(punct) >= MIN_PUNCT and sum(map(str.isalpha, text)) >= MIN_LETTERS:
            split = len(_SPLIT_PUNCT.findall(text))
            if split / len(punct) >= 0.5:
                out.append(
                    Finding(
                        self.name,
                        "RG-TOK-001",
                        W_DECODED,
                        f"No capital letters and {split} of {len(punct)} punctuation marks split off by spaces: "
                        "the text reads as decoded model tokens, as token-optimised poisoning leaves it.",
                        Span(0, len(text)),
                    )
                )
        # Every fragment holds "##": the substring test rules most texts out at C speed, where the
        # pattern (led by an alternation) would be tried at every position (about 20 us a text).
        pieces = list(_WORDPIECE.finditer(text)) if "##" in text else []
        if pieces:
            first = pieces[0]
            out.append(
                Finding(
                    self.name,
                    "RG-TOK-002",
                    W_WORDPIECE,
                    f"{len(pieces)} WordPiece continuation fragment(s) such as {first.group().strip()!r} are left "
                    "in the text: tokens pasted in, not written.",
                    Span(first.start() + (1 if first.group()[0].isspace() else 0), first.end()),
                )
            )
        return out
