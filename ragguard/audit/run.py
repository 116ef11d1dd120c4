"""The re-audit walk: stream the store a page at a time, verify, re-scan, diff, optionally move.

Memory is flat in store size: a bounded number of pages is held at a time (the
one being checked, up to two read ahead, one per scan worker waiting for its
text scan); what grows is the list of offenders (and the bounded map sample).
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ragguard._clock import utc_now
from ragguard.audit import baseline as bl
from ragguard.audit import moves
from ragguard.audit.embedmap import MapSampler
from ragguard.audit.incremental import Restamper, TextScanSkip
from ragguard.audit.parallel import PendingScan, TextScanPool, auto_workers
from ragguard.audit.results import (
    WITHHELD_REASONS,
    AuditCounts,
    AuditFinding,
    AuditReason,
    AuditReport,
    FindingStatus,
    IntegrityFailure,
    IntegrityReason,
)
from ragguard.detectors.base import ScreeningBatch, detect_batch, split_detectors
from ragguard.embedders.base import same_vector
from ragguard.errors import ConfigurationError, SigningKeyError, StoreError
from ragguard.provenance.canonical import text_digest
from ragguard.provenance.seal import claimed_provenance, split_metadata, verify
from ragguard.quarantine import AUDIT_REASON_KEY
from ragguard.retrieval import RetrievalFilter
from ragguard.stores.base import Collection, StoreView, iter_id_batches, read_ahead
from ragguard.types import Action, Chunk, DropReason, Finding, Provenance, StoredChunk, TrustTier, Verdict

if TYPE_CHECKING:
    from ragguard.guard import Guard

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

DEFAULT_PAGE_SIZE = 500
PREVIEW_CHARS = 160


def in_shard(chunk_id: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``chunk_id`` belongs to shard ``i`` of ``n`` (stable across runs and machines)."""
    if shard is None:
        return True
    i, n = shard
    return int.from_bytes(hashlib.sha256(chunk_id.encode("utf-8")).digest()[:8], "big") % n == i


def preview(text: str, n: int = PREVIEW_CHARS) -> str:
    """The start of a text on one line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


@dataclass
class _State:
    """What the walk accumulates (offenders only; pages are dropped as it goes)."""

    counts: dict[str, int] = field(default_factory=dict)
    failures: list[IntegrityFailure] = field(default_factory=list)
    findings: list[AuditFinding] = field(default_factory=list)
    plans: list[moves.MovePlan] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


@dataclass
class _Page:
    """A verified page whose text scan may still be running."""

    ok: list[tuple[StoredChunk, Provenance]]
    tiers: list[TrustTier]
    vectors: npt.NDArray[np.float32]
    others: dict[int, list[list[Finding]]]  # findings of the store/vector detectors, by id(detector)
    text: PendingScan
    scanned: list[int]  # positions in ``ok`` whose text is in ``text``; the rest skipped the scan


class _Auditor:
    def __init__(
        self,
        guard: Guard,
        served: Collection,
        quarantine: Collection,
        *,
        reembed: bool,
        sampler: MapSampler | None,
        pool: TextScanPool,
        full_rescan: bool = False,
        restamp: bool = False,
    ) -> None:
        self.guard = guard
        self.pool = pool
        # The text detectors run in ``pool``; the ones that read vectors or the store run here.
        self.other_detectors = split_detectors(guard.detectors)[1]
        today = guard.screen_version if guard.screen_id is not None else None
        if today is None and not full_rescan:
            log.info("audit: a text detector has no fingerprint, so every text is scanned again")
        # One rule, whether or not it is applied: it also names today's screen for the counts and restamp.
        self.rule = TextScanSkip(today, (d.name for d in pool.detectors), (d.name for d in self.other_detectors))
        self.full_rescan = full_rescan
        self.restamper = Restamper(served, guard.keyring(), self.rule) if restamp else None
        self.pending: deque[_Page] = deque()
        self.served = served
        self.quarantine = quarantine
        self.reembed = reembed
        self.sampler = sampler
        # No seal cache: the walk checks each chunk once, and caching them would only
        # evict the chunks the guard's searches retrieve again and again.
        self.filter = RetrievalFilter(guard.keyring(), guard.settings)
        self.view = StoreView(served, quarantine, seal_ok=guard.seal_ok)
        self.model_id = guard.embedder.model_id
        self.s = _State()
        self.unsettled: list[str] = []
        self.finishing: set[str] = set()  # served chunks whose interrupted move a FINISH plan completes

    # -- served collection ---------------------------------------------------
    def served_page(self, page: list[StoredChunk]) -> None:
        held = self.quarantine.existing([c.id for c in page])
        moving: dict[str, tuple[str, str]] = {}
        if held:
            # The page was read ahead: a chunk moved to quarantine since then is not served twice,
            # only no longer served. The quarantine walk verifies it there.
            gone = held - self.served.existing(sorted(held))
            page = [c for c in page if c.id not in gone]
            held -= gone
            # An old tampering's evidence (copied as-is) is not this chunk held; one read serves both checks.
            copies = [c for c in self.quarantine.get(sorted(held)) if AUDIT_REASON_KEY not in c.metadata]
            held = {c.id for c in copies}
            moving = moves.unfinished(self.guard, copies)
        self.s.add("served", len(page))
        ok: list[tuple[StoredChunk, Provenance]] = []
        for chunk in page:
            prov, reason = self.filter.check(chunk)
            if reason in WITHHELD_REASONS:
                self.s.add("withheld")
                self._offer(chunk)
            elif reason is not None or prov is None:
                self._fail(chunk, "served", reason or DropReason.MALFORMED_SEAL)
            elif chunk.id in moving and moving[chunk.id] == (prov.text_sha256, prov.embedding_sha256):
                # An earlier audit's move, copied and signed as in progress, then interrupted.
                self.s.add("interrupted_moves")
                self.s.plans.append(moves.MovePlan(chunk.id, prov.text_sha256, moves.FINISH, "interrupted_move"))
                self.finishing.add(chunk.id)
                ok.append((chunk, prov))  # still served until the move is finished: its findings are reported
            elif chunk.id in held and not prov.review:
                self._fail(chunk, "served", AuditReason.ALSO_QUARANTINED)
            else:
                if chunk.id in held:
                    # A reviewer's release that crashed between its two writes: legitimate.
                    self.s.add("interrupted_releases")
                ok.append((chunk, prov))
        if not ok:
            return
        vectors, fresh = self._vectors(ok)
        keep = [i for i, (c, p) in enumerate(ok) if not self._swapped(c, p, fresh.get(i))]
        if keep:
            self._scan([ok[i] for i in keep], vectors[keep])

    def _vectors(
        self, ok: list[tuple[StoredChunk, Provenance]]
    ) -> tuple[npt.NDArray[np.float32], dict[int, npt.NDArray[np.float32]]]:
        """Vectors to screen with, and the freshly computed ones by position.

        The stored vectors are what is served, so they are what detectors read;
        they are recomputed where asked (``reembed``) or where another model made
        them (today's detectors expect today's model).
        """
        need = [i for i, (_, p) in enumerate(ok) if self.reembed or p.embedder != self.model_id]
        fresh: dict[int, npt.NDArray[np.float32]] = {}
        if need:
            vecs = self.guard.embedder.embed([ok[i][0].text for i in need])
            fresh = {i: np.asarray(v, dtype=np.float32) for i, v in zip(need, vecs, strict=True)}
        rows = [
            fresh[i] if i in fresh else np.asarray(c.embedding, dtype=np.float32).reshape(-1)
            for i, (c, _) in enumerate(ok)
        ]
        if len({r.size for r in rows}) > 1:
            # A store mixing vector sizes: screen every chunk with today's model.
            rest = [i for i in range(len(ok)) if i not in fresh]
            for i, v in zip(rest, self.guard.embedder.embed([ok[i][0].text for i in rest]), strict=True):
                rows[i] = np.asarray(v, dtype=np.float32)
        return np.stack(rows), fresh

    def _swapped(self, chunk: StoredChunk, prov: Provenance, fresh: npt.NDArray[np.float32] | None) -> bool:
        if not self.reembed:
            return False
        if prov.embedder != self.model_id or fresh is None:
            self.s.add("reembed_skipped")  # another model's vector cannot be compared to ours
            return False
        self.s.add("reembedded")
        if same_vector(chunk.embedding, fresh):
            return False
        self._fail(chunk, "served", AuditReason.SWAPPED_VECTOR)
        return True

    def _scan(self, ok: list[tuple[StoredChunk, Provenance]], vectors: npt.NDArray[np.float32]) -> None:
        """Start today's detectors on verified chunks; the policy runs when the text scan is back.

        Detectors that read the store or the vectors run now, in this process;
        text detectors run in the scan pool (worker processes on big stores)
        while the walk reads and verifies the next page.
        """
        settings = self.guard.settings
        chunks = []
        tiers = []
        for c, p in ok:
            _, user = split_metadata(c.metadata)
            chunks.append(Chunk(c.id, c.text, p.source, p.doc_id, p.chunk_index, user))
            # Sealed trust, lowered (never raised) by today's configuration.
            tiers.append(settings.trust_for(p.source, p.trust))
        today = self.rule.screen_version
        if today is not None:
            self.s.add("sealed_under_other_rules", sum(p.policy_version != today for _, p in ok))
        scanned = [i for i, (_, p) in enumerate(ok) if self.full_rescan or not self.rule(p)]
        self.s.add("text_scan_skipped", len(ok) - len(scanned))
        text_scan = self.pool.submit([chunks[i].text for i in scanned])
        batch = ScreeningBatch(chunks, vectors, tiers, store=self.view, embedder=self.model_id)
        others = {id(d): detect_batch(d, batch) for d in self.other_detectors}
        self.pending.append(_Page(ok, tiers, vectors, others, text_scan, scanned))
        self.s.add("verified", len(ok))
        # Bounded look-ahead: memory stays one page per worker, whatever the store's size.
        while self.pending and (len(self.pending) > self.pool.workers or self.pending[0].text.done()):
            self._decide(self.pending.popleft())

    def drain(self) -> None:
        """Decide every page still waiting for its text scan."""
        while self.pending:
            self._decide(self.pending.popleft())

    def _decide(self, page: _Page) -> None:
        results = dict(page.others)
        for det, scanned in zip(self.pool.detectors, page.text.result(), strict=True):
            per_chunk: list[list[Finding]] = [[] for _ in page.ok]  # a skipped text: nothing, as sealed
            for i, found_in_text in zip(page.scanned, scanned, strict=True):
                per_chunk[i] = found_in_text
            results[id(det)] = per_chunk
        policy, settings = self.guard.policy, self.guard.settings
        for i, ((c, p), tier, vec) in enumerate(zip(page.ok, page.tiers, page.vectors, strict=True)):
            # In the guard's detector order, as ingest combines them.
            found = [f for d in self.guard.detectors for f in results[id(d)][i]]
            override = settings.thresholds_for(p.source, policy.thresholds(tier))
            self._judge(c, p, policy.decide(c.id, found, tier, override), vec)
        if self.restamper is not None:
            self.s.add("restamped", self.restamper.flush())

    def _judge(self, chunk: StoredChunk, prov: Provenance, verdict: Verdict, vec: npt.NDArray[np.float32]) -> None:
        if verdict.action is Action.ALLOW:
            if verdict.findings:
                self.s.add("below_threshold")
            if self.restamper is not None:
                self.restamper.offer(chunk, prov, verdict)
            self._offer(chunk)
            return
        released = bool(prov.review)
        status = FindingStatus.RELEASED if released else FindingStatus.NEW
        digest = prov.text_sha256
        for f in _strongest_per_rule(verdict.findings):
            self.s.findings.append(
                AuditFinding(
                    chunk.id, digest, prov.source, f.detector, f.code, f.score, f.explanation,
                    status, verdict.action, preview(chunk.text),
                )
            )  # fmt: skip
        if released:
            self._offer(chunk)
            return
        self.s.add("offending_chunks")
        if self.sampler is not None:
            self.sampler.flag(chunk.id, vec, "finding")
        top = verdict.findings[0].code if verdict.findings else verdict.action.value
        if chunk.id not in self.finishing:  # a half-done move is finished, not copied a second time
            self.s.plans.append(moves.MovePlan(chunk.id, digest, moves.RESEALED, top, verdict))

    def _fail(self, chunk: StoredChunk, collection: str, reason: IntegrityReason) -> None:
        claimed = claimed_provenance(chunk.metadata)
        source = claimed.source if claimed else chunk.metadata.get("source", "")
        self.s.failures.append(IntegrityFailure(chunk.id, collection, reason, str(source), preview(chunk.text)))
        if collection == "served":
            if self.sampler is not None:
                self.sampler.flag(chunk.id, chunk.embedding, "integrity")
            self.s.plans.append(
                moves.MovePlan(chunk.id, text_digest(str(chunk.text)), moves.COPIED_AS_IS, reason.value)
            )

    def _offer(self, chunk: StoredChunk) -> None:
        if self.sampler is not None:
            self.sampler.offer(chunk.id, chunk.embedding)

    # -- quarantine collection -------------------------------------------------
    def quarantine_page(self, page: list[StoredChunk]) -> None:
        keyring = self.guard.keyring()
        self.s.add("quarantined", len(page))
        for chunk in page:
            if AUDIT_REASON_KEY in chunk.metadata:
                self.s.add("held_by_audit")  # copied as-is by an earlier audit: already reported then
                continue
            try:
                prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring)
            except Exception:  # fail closed, like the retrieval filter
                prov, reason = None, DropReason.MALFORMED_SEAL
            if reason is not None:
                self._fail(chunk, "quarantine", reason)
            elif prov is not None and prov.review == moves.MOVING:
                self.unsettled.append(chunk.id)  # a move interrupted after its delete: sign it as done


def _strongest_per_rule(findings: tuple[Finding, ...]) -> list[Finding]:
    """One finding per (detector, code): the baseline key has no span."""
    best: dict[tuple[str, str], Finding] = {}
    for f in findings:
        k = (f.detector, f.code)
        if k not in best or f.score > best[k].score:
            best[k] = f
    return list(best.values())


def _read_pages(
    col: Collection, page_size: int, scope: Callable[[str], bool] | None
) -> Iterator[tuple[list[StoredChunk], int]]:
    """Each page of ``col`` in the shard, with how many ids the walk has listed by then."""
    # The shard is chosen on ids, before any content is read: n shards read 1/n each.
    for ids, listed in iter_id_batches(col, page_size, keep=scope):
        yield (col.get(ids) if ids else []), listed


def _refuse_a_wrong_keyring(s: _State) -> None:
    """After the walk, before any move: a keyring that verifies nothing at all is a wrong key, not tampering.

    Otherwise every chunk would be an integrity failure (exit 2, "treat as an
    incident"), and with ``quarantine`` the whole store would be moved. Only the
    whole store counts: one chunk that verifies, or one failure of another kind,
    and the report stands, so planting or editing chunks cannot silence the audit.

    Raises:
        SigningKeyError: If every stored chunk failed, and every failure is ``unknown_key``.
    """
    # Evidence an earlier audit copied as-is is not verified again, so it can neither count for nor against.
    checked = s.counts.get("served", 0) + s.counts.get("quarantined", 0) - s.counts.get("held_by_audit", 0)
    if checked and len(s.failures) == checked and all(f.reason is DropReason.UNKNOWN_KEY for f in s.failures):
        raise SigningKeyError(
            f"none of the {checked} stored chunks verifies with this keyring: all are sealed with keys it does "
            "not hold (wrong RAGGUARD_SIGNING_KEY or key file?); nothing was reported or moved"
        )


def run_audit(
    guard: Guard,
    *,
    reembed: bool = False,
    shard: tuple[int, int] | None = None,
    baseline: Path | None = None,
    update_baseline: bool = False,
    quarantine: bool = False,
    progress: Progress | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    map_sample: int = 0,
    workers: int | None = 1,
    full_rescan: bool = False,
    restamp: bool = False,
) -> AuditReport:
    """Re-audit the guard's store. See :meth:`ragguard.Guard.audit` for the arguments.

    Raises:
        StoreError: If the store or its collections do not exist, or ``restamp`` is asked of
            a store that cannot replace metadata in place.
        SigningKeyError: If ``quarantine`` or ``restamp`` is asked with a verify-only keyring, or the keyring
            verifies none of the stored chunks, all sealed by keys it does not hold (a wrong key).
        InputError: If the baseline file is malformed.
        ValueError: If ``shard`` or ``page_size`` is invalid, or ``update_baseline`` has no file.
        ConfigurationError: If ``restamp`` is asked of a screen with no id (a text detector
            without a fingerprint, or detector code that cannot be read).
    """
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1 (or None for one per CPU on big stores), got {workers}")
    if update_baseline and baseline is None:
        raise ValueError("update_baseline needs a baseline file")
    if restamp and guard.screen_id is None:
        raise ConfigurationError(
            "restamp needs a screen id, and there is none: a text detector has no fingerprint "
            "(see TextDetector.fingerprint) or the detector code cannot be read"
        )
    started = utc_now()
    previous = bl.load_baseline(baseline) if baseline is not None else None  # fail before the long walk
    served, quarantined = guard.collections(create=False)
    if quarantine or restamp:
        try:
            guard.keyring().active()  # re-sealing needs a signing key: fail now, not halfway through the moves
        except SigningKeyError as exc:
            asked = " and ".join(n for n, on in (("quarantine", quarantine), ("restamp", restamp)) if on)
            raise SigningKeyError(f"{asked} re-seals chunks and needs a signing key: {exc}") from None
    if restamp and not hasattr(served, "replace_metadata"):
        raise StoreError(f"collection {served.name!r} cannot replace metadata in place, so it cannot be re-stamped")
    detectors = tuple(bl.detector_info(d) for d in guard.detectors)
    sampler = MapSampler(map_sample) if map_sample > 0 else None
    total = served.count() + quarantined.count()
    if workers is None:
        workers = auto_workers(total if shard is None else total // shard[1])
    text_detectors, _ = split_detectors(guard.detectors)
    scope = (lambda cid: in_shard(cid, shard)) if shard is not None else None
    with TextScanPool(text_detectors, workers) as pool:
        auditor = _Auditor(
            guard, served, quarantined, reembed=reembed, sampler=sampler, pool=pool, full_rescan=full_rescan,
            restamp=restamp,
        )  # fmt: skip
        done = 0
        for col, handle in ((served, auditor.served_page), (quarantined, auditor.quarantine_page)):
            listed = 0
            # The next page is read while this one is checked (the read releases the GIL).
            for page, listed in read_ahead(_read_pages(col, page_size, scope)):
                if page:  # empty when every chunk was deleted since the listing
                    handle(page)
                if progress is not None:
                    progress(done + listed, max(total, done + listed))
            done += listed
            auditor.drain()
    s = auditor.s
    if auditor.restamper is not None and auditor.restamper.left:
        s.add("restamp_left", sum(auditor.restamper.left.values()))
        log.info("audit: not re-stamped: %s", dict(auditor.restamper.left))
    _refuse_a_wrong_keyring(s)
    moved = moves.execute(guard, served, quarantined, s.plans) if quarantine else []
    if quarantine and auditor.unsettled:
        left_served = served.existing(auditor.unsettled)  # those are finished by the plans above
        moves.settle(guard, quarantined, [i for i in auditor.unsettled if i not in left_served])
    findings = bl.classify(s.findings, previous, scope)
    notes: list[str] = []
    if baseline is not None:
        notes = bl.compatibility_notes(previous, detectors, guard.policy.version, baseline)
        if update_baseline:
            gone = {m.chunk_id for m in moved}
            current = [f for f in findings if f.chunk_id not in gone]
            bl.write_baseline(
                baseline,
                bl.Baseline(bl.entries_from(current), detectors, guard.policy.version, served.name, utc_now(), shard),
            )
    status = [f.status for f in findings]
    counts = AuditCounts(
        **{k: v for k, v in s.counts.items() if k in AuditCounts.__dataclass_fields__},
        integrity_failures=len(s.failures),
        new_findings=status.count(FindingStatus.NEW),
        unchanged_findings=status.count(FindingStatus.UNCHANGED),
        resolved_findings=status.count(FindingStatus.RESOLVED),
        released_findings=status.count(FindingStatus.RELEASED),
        moved=len(moved),
    )
    return AuditReport(
        collection=served.name,
        started_at=started,
        finished_at=utc_now(),
        counts=counts,
        integrity_failures=tuple(s.failures),
        findings=tuple(findings),
        moved=tuple(moved),
        detectors=detectors,
        policy_version=guard.policy.version,
        shard=shard,
        reembed=reembed,
        full_rescan=full_rescan,
        screen_version=guard.screen_version,
        baseline_notes=tuple(notes),
        embedding_map=sampler.project() if sampler is not None else None,
    )


__all__ = ["in_shard", "preview", "run_audit"]
