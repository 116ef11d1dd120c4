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

After an upgrade or a rule change every chunk sealed before names another
screen, so every audit scans it in full; ``audit(restamp=True)`` (``ragguard
audit --restamp``) re-seals the ones it finds clean under today's screen
version (:class:`Restamper`), and later audits skip them again.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping

from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import KNOWN_KEYS, encode_findings, seal, split_metadata
from ragguard.stores.base import Collection
from ragguard.types import Action, MetadataValue, Provenance, StoredChunk, Verdict
from ragguard.writer import MAX_SEALED_FINDINGS

__all__ = ["Restamper", "TextScanSkip"]


class TextScanSkip:
    """Decides, per verified chunk, whether the text re-scan can be skipped.

    Args:
        screen_version: Today's :attr:`ragguard.Guard.screen_version`, or None when
            today's screen has no id (nothing can then be compared: scan everything).
        text_detectors: Names of today's text detectors.
        other_detectors: Names of today's other detectors.
    """

    def __init__(
        self, screen_version: str | None, text_detectors: Iterable[str], other_detectors: Iterable[str]
    ) -> None:
        self.screen_version = screen_version
        self.other_detectors = frozenset(other_detectors)
        # A name both kinds use would let a text detector's sealed finding pass for the other's.
        self.enabled = screen_version is not None and not self.other_detectors & set(text_detectors)

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


class Restamper:
    """Re-seals, a page at a time, clean chunks screened under another id, so later audits skip them.

    A chunk qualifies when its seal verified, it is served and not a reviewer's
    release, today's policy allows it, and its record re-stamped with today's
    score, findings and screen version would pass :class:`TextScanSkip` (no text
    finding today). Everything else in its provenance stays; the active key
    signs it. Left as they are (and counted in :attr:`left`):

    * ``other_key``: chunks sealed by a key other than the active one. Re-signing
      them would carry them past that key's revocation, which must stop serving
      everything it sealed (it may have been revoked for a compromise);
    * ``unknown_rg_keys``: layout-1 seals that sign ``rg_`` keys this release does
      not know; rewriting the metadata would drop them (as :mod:`ragguard.audit.reseal`);
    * ``changed_during_restamp``: chunks another writer changed after the walk
      read them (each write is conditional on the metadata read; on Chroma the
      check and the write are two calls, so run it while nothing else writes).

    Args:
        served: The served collection.
        keyring: Signs the new records (must hold an active key).
        skip: Today's skip rule (its screen version is what gets sealed).
    """

    def __init__(self, served: Collection, keyring: Keyring, skip: TextScanSkip) -> None:
        self.served = served
        self.keyring = keyring
        self.skip = skip
        self._ids: list[str] = []
        self._metas: list[dict[str, MetadataValue]] = []
        self._expected: list[Mapping[str, MetadataValue]] = []
        self._active = keyring.active().key_id
        self.left: Counter[str] = Counter()

    def offer(self, chunk: StoredChunk, prov: Provenance, verdict: Verdict) -> None:
        """Queue ``chunk`` for re-stamping if it qualifies (see the class)."""
        version = self.skip.screen_version
        if version is None or prov.review or verdict.action is not Action.ALLOW or prov.policy_version == version:
            return
        stamped = dataclasses.replace(
            prov,
            score=round(verdict.score, 6),
            findings=encode_findings(verdict.findings, MAX_SEALED_FINDINGS),
            policy_version=version,
        )
        if not self.skip(stamped):
            return  # a text finding today: the audit will scan it again anyway
        rg, user = split_metadata(chunk.metadata)
        if prov.key_id != self._active:
            self.left["other_key"] += 1
            return
        if not rg.keys() <= KNOWN_KEYS:
            self.left["unknown_rg_keys"] += 1
            return
        self._ids.append(chunk.id)
        self._metas.append({**user, **seal(stamped, self.keyring)})
        self._expected.append(chunk.metadata)

    def flush(self) -> int:
        """Write what was queued; how many chunks were re-stamped."""
        if not self._ids:
            return 0
        done = self.served.replace_metadata(self._ids, self._metas, expected=self._expected)
        self.left["changed_during_restamp"] += len(self._ids) - len(done)
        self._ids, self._metas, self._expected = [], [], []
        return len(done)
