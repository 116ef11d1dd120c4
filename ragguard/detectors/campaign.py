"""Poisoning campaigns: several untrusted near-duplicates, unlike the trusted corpus.

PoisonedRAG plants several passages per target question (five by default),
all written to be retrieved for the same question and to assert the same
wrong answer, so they sit very close to each other in embedding space while
no trusted passage says the same thing. One passage alone proves nothing; a
tight cluster of untrusted ones that the trusted knowledge base does not
corroborate is the signature.

Copies are not a campaign. Versions of one page, a template filled in twice,
overlapping chunks of one article are near-duplicates too, but they share
most of their words; a campaign's passages are independent generations (the
PoisonedRAG paper notes exact dedup does not stop it) that share a meaning,
not a wording. A neighbour counts as a member only when its word overlap
(Jaccard) stays below ``copy_overlap`` and the two share no whole line of
``shared_line`` characters or more (whitespace-insensitive): documents cut
from one template (tables with the same header row, mail with the same
boilerplate) repeat whole lines, independently written paraphrases do not.
Even then the finding corroborates other cues (at most 0.45, or 0.55 for a
paraphrase of a quarantined passage) rather than deciding alone.

Within a batch, chunks of one record are not members of each other's cluster: a document
that repeats its own structure (benchmark output, changelog entries,
contributor lists) is one author's text, not several independent plants.
PoisonedRAG plants each passage as its own text; an attacker who packs all of
them into one record leaves them to the per-passage detectors (query
targeting, token artefacts, the classifier).

Structured records (tables, pipe- or tab-separated rows) are left out on
both sides: records of one schema sit close together in embedding space by
construction, whatever they say, so closeness there is not the paraphrase
signal a campaign leaves in prose.

The cluster is looked for among the untrusted chunks of the batch *and* in
the store (untrusted chunks already served, and quarantined ones), through
the store's own kNN index, so a campaign is found whether its passages arrive
in one batch or one per call over time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ragguard.detectors.base import ScreeningBatch
from ragguard.provenance.seal import TRUST_KEY
from ragguard.types import Finding, TrustTier

_WORD = re.compile(r"\w+")


def is_structured(text: str) -> bool:
    """Whether most of the text's lines are table or delimited rows (two or more ``|`` or tabs)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    rows = sum(1 for line in lines if line.count("|") >= 2 or line.count("\t") >= 2)
    return 2 * rows >= len(lines)


def word_set(text: str) -> frozenset[str]:
    """The text's lower-cased words."""
    return frozenset(_WORD.findall(text.lower()))


def jaccard(wa: frozenset[str], wb: frozenset[str]) -> float:
    """Jaccard overlap of two word sets (1.0 for two empty ones)."""
    return len(wa & wb) / len(wa | wb) if wa or wb else 1.0


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' lower-cased word sets."""
    return jaccard(word_set(a), word_set(b))


def long_lines(text: str, min_chars: int) -> frozenset[str]:
    """The text's lines of at least ``min_chars`` characters, whitespace runs collapsed."""
    flat = (" ".join(line.split()) for line in text.splitlines())
    return frozenset(line for line in flat if len(line) >= min_chars)


@dataclass
class _Evidence:
    batch: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)
    quarantined: set[str] = field(default_factory=set)
    best_member: float = 0.0
    best_trusted: float = 0.0

    @property
    def members(self) -> int:
        return len(self.batch | self.stored | self.quarantined)


class CampaignDetector:
    """Flags untrusted chunks with untrusted near-duplicates the trusted corpus does not explain.

    Args:
        similarity: Cosine similarity at which two chunks count as near-duplicates.
        min_members: Other near-duplicates needed for a campaign (besides the chunk).
        k: Neighbours fetched from the store per chunk.
        corroboration: A trusted chunk at least this similar (and at least as
            similar as the closest member) explains the cluster: a benign variant.
        copy_overlap: Word overlap at or above which a neighbour is a copy or
            version of the chunk, not an independent campaign member.
        shared_line: A neighbour sharing a whole line this long (or longer) with
            the chunk comes from the same template, not an independent member.
    """

    name = "campaign"

    def __init__(
        self,
        similarity: float = 0.85,
        min_members: int = 2,
        k: int = 10,
        corroboration: float = 0.92,
        copy_overlap: float = 0.55,
        shared_line: int = 20,
    ) -> None:
        self.similarity = similarity
        self.min_members = min_members
        self.k = k
        self.corroboration = corroboration
        self.copy_overlap = copy_overlap
        self.shared_line = shared_line

    def is_copy(self, a: str, b: str, shapes: dict[str, tuple[frozenset[str], frozenset[str]]] | None = None) -> bool:
        """Whether ``b`` is a copy, version or template sibling of ``a`` rather than a paraphrase.

        ``shapes`` memoises each text's word set and long lines across the pairs
        of one batch (a repetitive batch has many close pairs).
        """
        memo = shapes if shapes is not None else {}
        (wa, la), (wb, lb) = (self._shape(t, memo) for t in (a, b))
        return jaccard(wa, wb) >= self.copy_overlap or not la.isdisjoint(lb)

    def _shape(
        self, text: str, memo: dict[str, tuple[frozenset[str], frozenset[str]]]
    ) -> tuple[frozenset[str], frozenset[str]]:
        if text not in memo:
            memo[text] = (word_set(text), long_lines(text, self.shared_line))
        return memo[text]

    def detect(self, batch: ScreeningBatch) -> list[list[Finding]]:
        """Findings per chunk; trusted chunks are never flagged by this detector."""
        n = len(batch.chunks)
        out: list[list[Finding]] = [[] for _ in range(n)]
        idx = [
            i
            for i, t in enumerate(batch.trust)
            if t is not TrustTier.TRUSTED and not is_structured(batch.chunks[i].text)
        ]
        if not idx:
            return out
        ids = [batch.chunks[i].id for i in idx]
        vecs = np.asarray(batch.embeddings, dtype=np.float32)[idx]
        texts = [batch.chunks[i].text for i in idx]
        records = [(batch.chunks[i].source, batch.chunks[i].doc_id, batch.chunks[i].chunk_index) for i in idx]
        evidence = [_Evidence() for _ in idx]
        shapes: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self._from_batch(ids, texts, records, vecs, evidence, shapes)
        if batch.store is not None:
            self._from_store(batch, ids, texts, vecs, evidence, shapes)
        for j, i in enumerate(idx):
            f = self._finding(evidence[j])
            if f is not None:
                out[i].append(f)
        return out

    def _from_batch(
        self,
        ids: list[str],
        texts: list[str],
        records: list[tuple[str, str, int]],
        vecs: np.ndarray,
        evidence: list[_Evidence],
        shapes: dict[str, tuple[frozenset[str], frozenset[str]]],
    ) -> None:
        sims = vecs @ vecs.T
        for j, row in enumerate(sims):
            for m in np.flatnonzero(row >= self.similarity):
                if records[m][:2] == records[j][:2] and records[m][2] != records[j][2]:
                    # Another piece of the chunk's own record. Ids are the caller's: two records
                    # under one id each start at piece 0, so equal positions are two records.
                    continue
                if ids[m] != ids[j] and not self.is_copy(texts[j], texts[m], shapes):
                    evidence[j].batch.add(ids[m])
                    evidence[j].best_member = max(evidence[j].best_member, float(row[m]))

    def _from_store(
        self,
        batch: ScreeningBatch,
        ids: list[str],
        texts: list[str],
        vecs: np.ndarray,
        evidence: list[_Evidence],
        shapes: dict[str, tuple[frozenset[str], frozenset[str]]],
    ) -> None:
        assert batch.store is not None
        # Only neighbours at least this close can count (a member needs ``similarity``,
        # a trusted passage explains the cluster only from ``corroboration``), so the
        # store reads text and metadata for those alone.
        close = min(self.similarity, self.corroboration)
        for quarantined in (False, True):
            # Each chunk's own id is left out: the same chunk, already stored, is not a campaign.
            nb = batch.store.nearest(vecs, self.k, quarantined=quarantined, min_similarity=close, exclude=ids)
            for j, ev in enumerate(evidence):
                for nid, dist, meta, text in zip(nb.ids[j], nb.distances[j], nb.metadatas[j], nb.texts[j], strict=True):
                    sim = 1.0 - dist
                    if is_structured(text):
                        continue  # a record of some schema: near by construction, not a paraphrase
                    if not quarantined and meta.get(TRUST_KEY) == TrustTier.TRUSTED.value:
                        ev.best_trusted = max(ev.best_trusted, sim)
                    elif sim >= self.similarity and not self.is_copy(texts[j], text, shapes):
                        (ev.quarantined if quarantined else ev.stored).add(nid)
                        ev.best_member = max(ev.best_member, sim)

    def _finding(self, ev: _Evidence) -> Finding | None:
        members = ev.members
        if members == 0:
            return None
        if ev.best_trusted >= self.corroboration and ev.best_trusted >= ev.best_member - 0.02:
            return None  # a trusted passage says the same: a variant, not a campaign
        # Corroborating, not decisive: templated mail and versions of one page are
        # near-duplicates too. A cluster adds to other cues; a near-copy of
        # something already quarantined is stronger evidence than a new cluster.
        if ev.quarantined:
            score = min(0.55, 0.45 + 0.05 * (members - 1))
        elif members >= self.min_members:
            score = min(0.45, 0.35 + 0.05 * (members - self.min_members))
        else:
            score = 0.25
        # Trusted neighbours are only read from this close on (see _from_store).
        floor = min(self.similarity, self.corroboration)
        trusted = f"{ev.best_trusted:.2f}" if ev.best_trusted >= floor else f"none at {floor:.2f} or more"
        where = []
        if ev.batch:
            where.append(f"{len(ev.batch)} in this batch")
        if ev.stored:
            where.append(f"{len(ev.stored)} already served")
        if ev.quarantined:
            where.append(f"{len(ev.quarantined)} quarantined")
        return Finding(
            detector=self.name,
            code="RG-CMP-001",
            score=score,
            explanation=(
                f"{members} other untrusted passage(s) ({', '.join(where)}) are paraphrases "
                f"(cosine >= {self.similarity:.2f}, closest {ev.best_member:.2f}) and no trusted passage is as "
                f"close ({trusted}): the shape of a coordinated poisoning campaign."
            ),
        )
