"""The pipeline: chunk -> embed once -> detect -> decide -> seal -> store.

:class:`Guard` is the Python API. Constructing one does no work; the store is
opened, the key resolved and the model loaded on first use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragguard.config import Settings, validation_message
from ragguard.detectors.base import Detector, split_detectors
from ragguard.detectors.fingerprint import screen_id
from ragguard.detectors.registry import create_all
from ragguard.embedders.base import Embedder
from ragguard.errors import ConfigurationError, InputError, SigningKeyError, StoreError
from ragguard.policy import Policy
from ragguard.provenance.keyring import Keyring, resolve_keyring
from ragguard.provenance.seal import SealCache, split_metadata, verify
from ragguard.quarantine import QuarantineEntry, find_quarantined, release, rescreen
from ragguard.records import Chunker, InputRecord, coerce_records
from ragguard.retrieval import RetrievalFilter, log_dropped
from ragguard.screening import SeamContext, record_verdict, screen
from ragguard.stores.base import MAX_PAGE, QUARANTINE_SUFFIX, Collection, StoreClient, StoreView
from ragguard.types import (
    Chunk,
    DropReason,
    Hit,
    IngestReport,
    Provenance,
    RecordVerdict,
    SearchResult,
    StoredChunk,
    TrustTier,
    Verdict,
)
from ragguard.writer import write_batch

if TYPE_CHECKING:
    from ragguard.audit import AdoptReport, AuditReport, ResealReport

log = logging.getLogger(__name__)

KEYRING_FILENAME = "keyring.json"

Progress = Callable[[int, int], None]
Records = Iterable[str | Mapping[str, Any] | InputRecord]


class Guard:
    """Screens, seals and stores chunks; serves only what passes the retrieval filter.

    Args:
        store: Where collections live (Chroma embedded or server, or in-memory).
        embedder: Produces the vectors every detector and the store share.
        settings: Source policy, chunking and key settings.
        keyring: Signing keys; resolved from settings on first use when None.
        detectors: Detector instances; the registry defaults when None.
        policy: Thresholds; the documented defaults when None.
        key_dir: Folder for a generated key file (the embedded store's folder).
    """

    def __init__(
        self,
        store: StoreClient,
        embedder: Embedder,
        *,
        settings: Settings | None = None,
        keyring: Keyring | None = None,
        detectors: Sequence[Detector] | None = None,
        policy: Policy | None = None,
        key_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings if settings is not None else Settings()
        self.policy = policy if policy is not None else Policy()
        self.collection_name = self.settings.collection
        self._keyring = keyring
        self._detectors = list(detectors) if detectors is not None else None
        self._key_dir = key_dir
        self._cols: tuple[Collection, Collection] | None = None
        # Seals this guard has verified, so chunks retrieved again skip the signature check.
        self._seal_cache = SealCache(self.settings.seal_cache_size)
        # The keyring is resolved (for a new store: generated and saved) once, even when the first
        # calls come from several threads at once: two would each save a key, and the chunks sealed
        # with the one overwritten could never be verified again.
        self._resolving = threading.Lock()

    # -- construction ------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        chroma_url: str | None = None,
        collection: str | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        keyring: Keyring | None = None,
        detectors: Sequence[Detector] | None = None,
        policy: Policy | None = None,
    ) -> Guard:
        """A guard over embedded Chroma at ``path`` (default ``./.ragguard``) or a server.

        Nothing is opened or loaded until first use.
        """
        from ragguard.embedders.sentence_transformers import SentenceTransformerEmbedder
        from ragguard.stores.chroma import ChromaStore

        settings = settings if settings is not None else Settings()
        updates: dict[str, Any] = {}
        if path is not None:
            updates["store"] = Path(path)
        if chroma_url is not None:
            updates["chroma_url"] = chroma_url
        if collection is not None:
            updates["collection"] = collection
        if updates:
            settings = settings.model_copy(update=updates)
            try:
                Settings.model_validate(settings.model_dump())  # re-validate the overrides
            except ValueError as exc:  # pydantic's ValidationError: one line naming the argument
                raise ConfigurationError(validation_message(exc)) from None
        if settings.chroma_url:
            store: StoreClient = ChromaStore(url=settings.chroma_url)
            key_dir = None
        else:
            store = ChromaStore(path=settings.store)
            key_dir = settings.store
        if embedder is None:
            embedder = SentenceTransformerEmbedder(
                settings.model,
                expected_sha256=settings.model_sha256,
                unsafe_skip_digest_check=settings.unsafe_skip_model_digest,
            )
        return cls(
            store,
            embedder,
            settings=settings,
            keyring=keyring,
            detectors=detectors,
            policy=policy,
            key_dir=key_dir,
        )

    # -- lazily resolved parts ---------------------------------------------
    def keyring(self, *, create: bool = False) -> Keyring:
        """The keyring (resolved once; generated for a new embedded store when ``create``)."""
        if self._keyring is None:
            with self._resolving:
                if self._keyring is None:
                    secret = self.settings.signing_key.get_secret_value() if self.settings.signing_key else None
                    self._keyring = resolve_keyring(
                        key_file=self.settings.key_file,
                        secret=secret,
                        default_file=self._key_dir / KEYRING_FILENAME if self._key_dir is not None else None,
                        create=create,
                    )
        return self._keyring

    @property
    def detectors(self) -> list[Detector]:
        """The detectors in use (the registry defaults unless given)."""
        if self._detectors is None:
            self._detectors = create_all()
        return self._detectors

    @property
    def screen_id(self) -> str | None:
        """The id of today's text screen (:func:`ragguard.detectors.fingerprint.screen_id`), if it has one.

        It names the text detectors, their names, parameters and order, and
        their code, so the audit can tell a text it need not scan again. None
        when a text detector cannot say what it depends on (a custom one
        without a fingerprint). Computed on each call: a parameter changed on a
        live detector must not be sealed under the id of its old value.
        """
        return screen_id(split_detectors(self.detectors)[0])

    @property
    def screen_version(self) -> str:
        """What every seal records as ``policy_version``: the policy's version, ``+`` the screen id if any."""
        sid = self.screen_id
        return self.policy.version if sid is None else f"{self.policy.version}+{sid}"

    @property
    def retrieval_filter(self) -> RetrievalFilter:
        """A filter over the current keyring and source policy."""
        return RetrievalFilter(self.keyring(), self.settings, self._seal_cache)

    def collections(self, *, create: bool = False) -> tuple[Collection, Collection]:
        """The served and quarantine collections.

        Raises:
            StoreError: If they do not exist and ``create`` is False.
        """
        if self._cols is None:
            qname = self.collection_name + QUARANTINE_SUFFIX
            if create:
                # Quarantine first: readers take the served collection's existence to mean the store
                # exists, so a crash between the two creations must never leave it without its quarantine.
                quarantine = self.store.collection(qname, create=True)
                served = self.store.collection(self.collection_name, create=True)
            else:
                served = self.store.collection(self.collection_name, create=False)  # the error names it
                try:
                    quarantine = self.store.collection(qname, create=False)
                except StoreError:
                    if self.store.has_collection(qname):
                        raise  # there, but unreadable: the store's own error says why
                    # Never created on a read: a deleted quarantine is evidence gone, not an empty one.
                    raise StoreError(
                        f"{self.store.describe()} has the collection {self.collection_name!r} but not its quarantine "
                        f"{qname!r}. If ragguard did not write it (a plain LangChain or Chroma collection), bring it "
                        "under a guarded collection of another name with `ragguard adopt --from-collection "
                        f"{self.collection_name} --collection NEW_NAME` (Guard.adopt); "
                        "if the quarantine was deleted or a first ingest of an older release was interrupted, "
                        "ingesting creates an empty one"
                    ) from None
            self._cols = (served, quarantine)
        return self._cols

    def _view(self) -> StoreView | None:
        """The store as detectors see it; None only when it does not exist yet.

        An unreachable store raises: screening silently without it would skip
        the detectors that compare against the knowledge base.
        """
        if self._cols is None and not self.store.has_collection(self.collection_name):
            return None
        served, quarantine = self.collections(create=False)
        return StoreView(served, quarantine, seal_ok=self.seal_ok)

    def seal_ok(self, chunk: StoredChunk) -> bool:
        """Whether a stored chunk's seal verifies (whatever its action), with this guard's seal cache.

        False, never an error, when it cannot be checked (no keyring yet): the
        detectors then treat the chunk's claims as unverified.
        """
        try:
            keyring = self.keyring()
        except SigningKeyError:
            return False
        found = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, keyring, cache=self._seal_cache)
        return found[1] is None

    # -- screening -----------------------------------------------------------
    def _chunker(self) -> Chunker:
        return Chunker(self.settings.chunk_size, self.settings.chunk_overlap)

    def _chunks(self, records: list[InputRecord]) -> list[tuple[InputRecord, list[Chunk]]]:
        chunker = self._chunker()
        return [(r, chunker.split(r)) for r in records]

    def _run(
        self,
        records: Records,
        source: str | None,
        trust: TrustTier | str | None,
        *,
        write: bool,
        progress: Progress | None,
    ) -> tuple[list[RecordVerdict], dict[str, int]]:
        recs = coerce_records(records, source)
        requested = _trust_tier(trust) if trust is not None else None
        split = self._chunks(recs)
        unique: dict[str, Chunk] = {}
        for _, chunks in split:
            for c in chunks:
                unique.setdefault(c.id, c)
        todo = list(unique.values())
        counts = {"stored": 0, "quarantined": 0, "rejected": 0, "unchanged": 0}
        verdicts: dict[str, Verdict] = {}
        if write:
            self.keyring(create=True).active()  # fail on a bad or verify-only key before any work is done
            self.collections(create=True)
        view = self._view()
        positions = {c.id: i for i, c in enumerate(todo)}
        seams = SeamContext(
            self.detectors, [(r.text, chunks) for r, chunks in split], self._chunker().overlap, positions
        )
        size = self.settings.batch_size
        with contextlib.ExitStack() as stack:
            background = (
                stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="ragguard-screen"))
                if self.settings.overlap_screening and todo
                else None
            )
            for start in range(0, len(todo), size):
                batch = todo[start : start + size]
                tiers = [self.settings.trust_for(c.source, requested) for c in batch]
                context = seams.upto(start + len(batch))
                vectors, batch_verdicts = screen(self, batch, tiers, view, background, context)
                verdicts.update((v.chunk_id, v) for v in batch_verdicts)
                if write:
                    write_batch(self, batch, tiers, vectors, batch_verdicts, counts)
                if progress is not None:
                    progress(min(start + size, len(todo)), len(todo))
        out = [record_verdict(r.id, [verdicts[c.id] for c in chunks]) for r, chunks in split]
        return out, counts

    # -- public API ----------------------------------------------------------
    def ingest(
        self,
        records: Records,
        source: str | None = None,
        trust: TrustTier | str | None = None,
        *,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Screen, seal and store records.

        Args:
            records: Strings, or mappings with ``text`` and optional ``id``, ``source``, ``metadata``.
            source: Source URI for records that name none.
            trust: Requested trust tier; configuration can lower it, never raise it.
            progress: Called with (chunks done, chunks total) after each batch.

        Returns:
            Verdicts per record and counts of what was stored. Re-ingesting the
            same content stores nothing new.

        Raises:
            InputError: A record is invalid (nothing is stored).
        """
        verdicts, counts = self._run(records, source, trust, write=True, progress=progress)
        return IngestReport(
            tuple(verdicts), counts["stored"], counts["quarantined"], counts["rejected"], counts["unchanged"]
        )

    def scan(
        self,
        records: Records,
        source: str | None = None,
        trust: TrustTier | str | None = None,
        *,
        progress: Progress | None = None,
    ) -> list[RecordVerdict]:
        """Dry run of :meth:`ingest` against the current store: writes nothing."""
        verdicts, _ = self._run(records, source, trust, write=False, progress=progress)
        return verdicts

    def search(self, query: str, k: int = 5) -> SearchResult:
        """The ``k`` nearest chunks that pass the retrieval filter.

        Fetches ``k`` and widens the window (x4) until ``k`` chunks pass or the
        collection is exhausted, so filtering never comes back short. A clean
        store needs one round of exactly ``k``: every candidate's text, metadata
        and vector are read back to check the seal, and each extra candidate
        costs about as much as a result (measured in ``bench/perf.py``); a
        store where chunks are dropped pays a second, wider round instead.

        Raises:
            StoreError: If the store does not exist.
            ValueError: If ``k`` < 1, or the query is empty or not valid text.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        if not query.strip():
            raise ValueError("the query is empty")
        try:
            query.encode("utf-8")
        except UnicodeEncodeError as exc:  # e.g. argv bytes that were not UTF-8, kept as surrogates
            raise ValueError(
                f"the query holds a lone surrogate (U+{ord(query[exc.start]):04X}) at position {exc.start}: "
                "it is not valid text (bytes that were not UTF-8?)"
            ) from None
        served, _ = self.collections(create=False)
        flt = self.retrieval_filter
        qv = self.embedder.embed([query])
        n = k
        while True:
            rows = served.query(qv, n)[0]
            kept, dropped = flt.apply(rows, log_drops=False)  # each window holds the last: log once, below
            if len(kept) >= k or len(rows) < n:  # enough, or the store has no more
                break
            n *= 4
        log_dropped(dropped)
        hits = tuple(_hit(chunk, prov) for chunk, prov in kept[:k])
        return SearchResult(hits, tuple(dropped))

    def verify_stored(self, ids: Sequence[str]) -> dict[str, tuple[StoredChunk | None, DropReason | None]]:
        """Re-read chunks from the served collection by id and run the retrieval filter.

        For wrappers around other retrievers (which return text but not vectors):
        each id maps to ``(stored chunk, None)`` when it may be served, else to
        ``(stored chunk or None, reason)``; ids not in the store get ``NOT_IN_STORE``.
        Never raises on a bad chunk.
        """
        served, _ = self.collections(create=False)
        found = {c.id: c for c in served.get(list(dict.fromkeys(ids)))}
        flt = self.retrieval_filter
        out: dict[str, tuple[StoredChunk | None, DropReason | None]] = {}
        for cid in ids:
            chunk = found.get(cid)
            if chunk is None:
                out[cid] = (None, DropReason.NOT_IN_STORE)
            else:
                out[cid] = (chunk, flt.check(chunk)[1])
        return out

    # -- audit gate ------------------------------------------------------------
    def audit(
        self,
        *,
        reembed: bool = False,
        shard: tuple[int, int] | None = None,
        baseline: str | Path | None = None,
        update_baseline: bool = False,
        quarantine: bool = False,
        progress: Progress | None = None,
        map_sample: int = 0,
        workers: int | None = 1,
        full_rescan: bool = False,
        restamp: bool = False,
    ) -> AuditReport:
        """Re-audit the whole store (see :func:`ragguard.audit.run_audit`).

        Streams both collections a page at a time; verifies every seal;
        re-scans served chunks with today's detectors and policy; compares
        findings with ``baseline`` (written back when ``update_baseline``);
        with ``quarantine``, moves offenders out of the served collection
        (copy first, delete second; tampered chunks are never re-signed).

        Args:
            reembed: Recompute every vector and flag ones that do not belong to their text.
            shard: ``(i, n)``: audit only chunks whose id hashes to ``i`` mod ``n``.
            baseline: Baseline JSON file to compare with (a missing file is a first run).
            update_baseline: Write today's findings to ``baseline`` (atomically).
            quarantine: Move offenders to the quarantine collection.
            progress: Called with (chunks read, chunks total) after each page.
            map_sample: Size of the random sample for the report's embedding map (0: no map).
            workers: Processes for the text re-scan (1: in this process; ``None``: one
                per CPU, up to 8, when the store holds 20,000 chunks or more).
            full_rescan: Scan every text again, even those whose seal shows today's
                text detectors found nothing in it (see :mod:`ragguard.audit.incremental`).
            restamp: Re-seal, with the active key, the served chunks today's screen
                finds clean but whose seal names another screen (an earlier release or
                rule set), so later audits skip their text scan.

        Raises:
            StoreError: If the store does not exist.
            InputError: If the baseline file is malformed.
        """
        from ragguard.audit import run_audit

        return run_audit(
            self,
            reembed=reembed,
            shard=shard,
            baseline=Path(baseline) if baseline is not None else None,
            update_baseline=update_baseline,
            quarantine=quarantine,
            progress=progress,
            map_sample=map_sample,
            workers=workers,
            full_rescan=full_rescan,
            restamp=restamp,
        )

    def adopt(
        self,
        collection_name: str,
        *,
        trust: TrustTier | str | None = None,
        source: str | None = None,
        progress: Progress | None = None,
    ) -> AdoptReport:
        """Bring an unguarded collection of this store under the guard (it is left untouched).

        Every document is re-embedded with this guard's embedder (foreign
        vectors are never trusted), screened, and sealed into the served or
        quarantine collection (see :func:`ragguard.audit.adopt_collection`).
        """
        from ragguard.audit import adopt_collection

        return adopt_collection(self, collection_name, trust=trust, source=source, progress=progress)

    def reseal(self, *, progress: Progress | None = None) -> ResealReport:
        """Re-seal this store's layout-1 chunks in layout 2, in place (see :func:`ragguard.audit.reseal_store`).

        Only chunks whose seal verifies are re-signed (by the active key); the rest
        are left untouched for the audit to report. Safe to interrupt and re-run.
        """
        from ragguard.audit import reseal_store

        return reseal_store(self, progress=progress)

    # -- quarantine review ---------------------------------------------------
    def quarantine_list(self, limit: int = 100, offset: int = 0) -> list[QuarantineEntry]:
        """Quarantined chunks, a page at a time.

        Raises:
            InputError: If ``limit`` is not in [1, MAX_PAGE] or ``offset`` not in [0, MAX_PAGE].
        """
        if not (1 <= limit <= MAX_PAGE and 0 <= offset <= MAX_PAGE):
            raise InputError(f"limit must be 1 to {MAX_PAGE} and offset 0 to {MAX_PAGE}; got {limit} and {offset}")
        _, quarantine = self.collections(create=False)
        return [self._entry(c) for c in quarantine.page(offset, limit)]

    def quarantine_get(self, chunk_id: str, *, rescan: bool = False) -> QuarantineEntry:
        """One quarantined chunk, for review.

        Args:
            chunk_id: The chunk's id.
            rescan: Also screen the chunk again (writing nothing) so the entry's
                ``rescan`` carries today's verdict with each finding's explanation
                and span; the seal keeps only detector, code and score. Runs the
                detectors (see :func:`ragguard.quarantine.rescreen`); ``quarantine
                show`` and ``GET /v1/quarantine/{id}`` ask for it.

        Raises:
            NotFoundError: If no quarantined chunk has this id.
        """
        _, quarantine = self.collections(create=False)
        chunk = find_quarantined(quarantine, chunk_id)
        entry = self._entry(chunk)
        return dataclasses.replace(entry, rescan=rescreen(self, chunk, entry, self._view())) if rescan else entry

    def release(self, chunk_id: str) -> None:
        """Re-seal a quarantined chunk as allowed and move it to the served collection.

        Safe to repeat after a crash: the served write is idempotent and comes
        before the quarantine delete.

        Raises:
            NotFoundError: If no quarantined chunk has this id.
            IntegrityError: If the quarantined chunk fails its seal (it stays quarantined).
        """
        served, quarantine = self.collections(create=False)
        release(served, quarantine, find_quarantined(quarantine, chunk_id), self.keyring())

    def purge(self, chunk_id: str) -> None:
        """Delete a quarantined chunk for good.

        Raises:
            NotFoundError: If no quarantined chunk has this id.
        """
        _, quarantine = self.collections(create=False)
        quarantine.delete([find_quarantined(quarantine, chunk_id).id])

    def _entry(self, chunk: StoredChunk) -> QuarantineEntry:
        return QuarantineEntry.from_stored(chunk, self.keyring())


def _trust_tier(trust: TrustTier | str) -> TrustTier:
    try:
        return TrustTier(trust)
    except ValueError:
        valid = ", ".join(t.value for t in TrustTier)
        raise InputError(f"trust must be one of {valid}; got {trust!r}") from None


def _hit(chunk: StoredChunk, prov: Provenance) -> Hit:
    _, user = split_metadata(chunk.metadata)
    return Hit(
        id=chunk.id,
        text=chunk.text,
        source=prov.source,
        doc_id=prov.doc_id,
        chunk_index=prov.chunk_index,
        distance=float(chunk.distance if chunk.distance is not None else 0.0),
        metadata=user,
    )
