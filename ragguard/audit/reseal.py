"""Re-sealing layout-1 chunks in layout 2, in place.

Layout-1 seals (every provenance field its own ``rg_`` key) still verify, but
Chroma pays for each of their 20 keys on every read, add and query
(``bench/audit_perf.py``). Re-sealing gives each layout-1 chunk whose seal
verifies the same provenance, re-signed by the active key, in layout 2 (only
chunks that key sealed: the others keep their own key's seal); its id,
text, vector and caller metadata stay as they are, and the old keys go in the
same update, so a crash leaves every chunk in one layout or the other, each
verifying, and running it again finishes the job. A chunk whose seal does not
verify is left exactly as it is, for the audit to report: re-signing it would
launder the tampering. Each chunk is rewritten only if it still holds the
metadata that was verified; run it while nothing else writes to the store (a
write between that check and the update, within one store call, is not seen).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragguard.errors import StoreError
from ragguard.provenance.legacy import RECORD_KEYS as _V1_KEYS
from ragguard.provenance.seal import SEAL_KEY, seal, split_metadata, verify
from ragguard.quarantine import AUDIT_REASON_KEY
from ragguard.stores.base import iter_id_batches
from ragguard.types import MetadataValue

if TYPE_CHECKING:
    from ragguard.guard import Guard


@dataclass(frozen=True)
class ResealReport:
    """What :meth:`ragguard.Guard.reseal` did, over the served and quarantine collections.

    Attributes:
        read: Chunks read.
        resealed: Layout-1 chunks re-sealed in layout 2.
        current: Chunks already in layout 2 whose seal verifies (left alone).
        left: Chunks left untouched, by reason: a drop reason when the seal does not
            verify, ``other_key`` for a layout-1 chunk sealed by a key other than the
            active one (it still verifies; re-sealing it under the active key would carry
            it past that key's revocation), ``unknown_rg_keys`` for a verifying layout-1 seal that signs keys
            this release does not know, ``changed_during_reseal`` when another writer
            replaced the chunk between the read and the update.
        held_by_audit: Quarantined chunks an audit moved there as they were (their seal
            did not verify then either); that audit reported them, so they are not
            counted in ``left``, and they stay as they are.
    """

    read: int = 0
    resealed: int = 0
    current: int = 0
    left: Mapping[str, int] = field(default_factory=dict)
    held_by_audit: int = 0

    def counts(self) -> dict[str, int]:
        """Flat counts for JSON and the CLI."""
        return {
            "read": self.read,
            "resealed": self.resealed,
            "current": self.current,
            "left": sum(self.left.values()),
            "held_by_audit": self.held_by_audit,
        }


def reseal_store(guard: Guard, *, progress: Callable[[int, int], None] | None = None) -> ResealReport:
    """Re-seal every verifying layout-1 chunk of ``guard``'s store in layout 2 (see the module docstring).

    Reads, verifies and rewrites ``settings.batch_size`` chunks per store call.

    Raises:
        SigningKeyError: If the keyring cannot sign (checked before anything is read).
        StoreError: If the store cannot replace metadata in place.
    """
    keyring = guard.keyring()
    keyring.active()  # a verify-only keyring fails here, before any work
    cols = guard.collections(create=False)
    for col in cols:
        if not hasattr(col, "replace_metadata"):
            raise StoreError(f"collection {col.name!r} cannot replace metadata in place, so it cannot be re-sealed")
    total = sum(col.count() for col in cols)
    read = resealed = current = held = 0
    left: Counter[str] = Counter()
    quarantine = cols[1]
    done_before = 0
    for col in cols:
        listed = 0
        for ids, listed in iter_id_batches(col, guard.settings.batch_size):
            ids_out: list[str] = []
            metas_out: list[dict[str, MetadataValue]] = []
            expected: list[Mapping[str, MetadataValue]] = []
            for chunk in col.get(ids):
                read += 1
                prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
                if reason is not None or prov is None:
                    if col is quarantine and AUDIT_REASON_KEY in chunk.metadata:
                        held += 1  # copied as-is by an audit, which reported it then
                    else:
                        left[(reason.value if reason else "malformed_seal")] += 1
                    continue
                rg, user = split_metadata(chunk.metadata)
                if SEAL_KEY in rg:
                    current += 1
                    continue
                if prov.key_id != keyring.active_id:
                    # Re-signing with the active key would carry the chunk past a later revocation of
                    # the key that sealed it (as restamp, which leaves these too). It still verifies.
                    left["other_key"] += 1
                    continue
                if not rg.keys() <= _V1_KEYS:
                    # Signed, but with keys this release does not know: dropping them would lose data.
                    left["unknown_rg_keys"] += 1
                    continue
                ids_out.append(chunk.id)
                metas_out.append({**user, **seal(prov, keyring)})
                expected.append(chunk.metadata)
            if ids_out:
                # Only where the chunk still holds what was verified: a writer may have replaced it since.
                done = col.replace_metadata(ids_out, metas_out, expected=expected)
                resealed += len(done)
                left["changed_during_reseal"] += len(ids_out) - len(done)
            if progress is not None:
                progress(min(done_before + listed, total), total)
        done_before += listed
    return ResealReport(
        read=read, resealed=resealed, current=current, left={k: n for k, n in left.items() if n}, held_by_audit=held
    )


__all__ = ["ResealReport", "reseal_store"]
