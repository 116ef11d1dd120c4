"""The retrieval filter: serve only what is provably what the ingest gate allowed.

A stored chunk is dropped if it is unsealed, its seal is malformed or signed by
an unknown or revoked key, the signature fails, its id, text, vector or
metadata differ from what was sealed, its sealed action is not ``allow``, or
its source is revoked or blocked. It fails closed and never raises on a bad
chunk: every drop is a :class:`~ragguard.types.Drop` with a reason, logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ragguard.provenance.keyring import Keyring
from ragguard.provenance.seal import SealCache, verify
from ragguard.types import Action, Drop, DropReason, Provenance, StoredChunk

if TYPE_CHECKING:
    from ragguard.config import Settings

log = logging.getLogger(__name__)


class RetrievalFilter:
    """Checks stored chunks against their seals and the current source policy.

    Args:
        keyring: Keys that may have sealed chunks (verify-only is enough).
        settings: Source policy (revoked and blocked sources).
        seal_cache: Seals already verified under ``keyring``, shared between
            filters of one guard so chunks retrieved again skip the signature
            check (see :class:`~ragguard.provenance.seal.SealCache`); ``None``
            checks every signature every time.
    """

    def __init__(self, keyring: Keyring, settings: Settings, seal_cache: SealCache | None = None) -> None:
        self.keyring = keyring
        self.settings = settings
        self.seal_cache = seal_cache

    def check(self, chunk: StoredChunk) -> tuple[Provenance | None, DropReason | None]:
        """Verify one chunk; ``(provenance, None)`` means it may be served."""
        try:
            prov, reason = verify(
                chunk.id, chunk.text, chunk.embedding, chunk.metadata, self.keyring, cache=self.seal_cache
            )
            if reason is not None:
                return prov, reason
            assert prov is not None
            if prov.action is not Action.ALLOW:
                return prov, DropReason.NOT_ALLOWED
            if self.settings.is_revoked_source(prov.source):
                return prov, DropReason.REVOKED_SOURCE
            if self.settings.is_blocked_source(prov.source):
                return prov, DropReason.BLOCKED_SOURCE
            return prov, None
        except Exception:  # fail closed: a chunk we cannot even check is never served
            log.exception("retrieval filter could not check chunk %s", chunk.id)
            return None, DropReason.MALFORMED_SEAL

    def apply(
        self, chunks: Iterable[StoredChunk], *, log_drops: bool = True
    ) -> tuple[list[tuple[StoredChunk, Provenance]], list[Drop]]:
        """Split chunks into those that pass (with their provenance) and drops.

        Args:
            chunks: Candidates, in rank order.
            log_drops: Log each drop at WARNING; a caller that re-applies the
                filter to a widening window logs the final drops once instead
                (:func:`log_dropped`).
        """
        kept: list[tuple[StoredChunk, Provenance]] = []
        dropped: list[Drop] = []
        for chunk in chunks:
            prov, reason = self.check(chunk)
            if reason is None and prov is not None:
                kept.append((chunk, prov))
            else:
                dropped.append(Drop(chunk.id, reason or DropReason.MALFORMED_SEAL))
        if log_drops:
            log_dropped(dropped)
        return kept, dropped


def log_dropped(dropped: Iterable[Drop]) -> None:
    """One WARNING per dropped chunk: the operator's trace of what was refused and why."""
    for d in dropped:
        log.warning("retrieval filter dropped chunk %s: %s", d.id, d.reason.value)
