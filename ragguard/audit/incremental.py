"""Which served chunks the audit need not scan again with the text detectors.

Ingest scans every chunk's text with the guard's text detectors and seals what
every detector found beside the screen's id (``policy_version``, see
:meth:`ragguard.Guard.screen_version`). A chunk can skip today's text scan when
all of these hold, and then that scan could only find nothing again:

* its seal verifies, so its text is the text that was scanned (the audit asks
  this only of chunks that passed the retrieval filter);
* the seal names today's screen version, with a screen id: the same text
  detectors, parameters, code and libraries;
* the sealed findings are readable, were not cut at their cap, and every one
  comes from one of today's other (vector or store) detectors, so no text
  detector found anything.

Anything else is scanned as before: seals from an earlier release or
configuration, chunks with a text finding (the audit must report it with its
explanation), custom text detectors without a fingerprint. The vector and
store detectors (campaign, classifier, density) always run: their answers
change as the store does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ragguard.types import Provenance
from ragguard.writer import MAX_SEALED_FINDINGS

__all__ = ["TextScanSkip"]


class TextScanSkip:
    """Decides, per verified chunk, whether the text re-scan can be skipped.

    Args:
        screen_version: Today's :attr:`ragguard.Guard.screen_version`.
        other_detectors: Names of today's detectors that are not text detectors.
    """

    def __init__(self, screen_version: str, other_detectors: Iterable[str]) -> None:
        # Without a screen id ("1", not "1+<id>") nothing can be compared: scan everything.
        self.enabled = "+" in screen_version
        self.screen_version = screen_version
        self.other_detectors = frozenset(other_detectors)

    def __call__(self, prov: Provenance) -> bool:
        """True when ``prov`` (a verified seal) shows today's text scan would find nothing."""
        if not self.enabled or prov.policy_version != self.screen_version:
            return False
        try:
            sealed = json.loads(prov.findings)
        except (ValueError, RecursionError):
            return False
        if type(sealed) is not list or len(sealed) >= MAX_SEALED_FINDINGS:
            return False  # at the cap, a text finding may have been cut off
        return all(type(f) is list and f and type(f[0]) is str and f[0] in self.other_detectors for f in sealed)
