"""The re-audit with fakes: every tampering case, re-scans with new rules, re-embedding, sharding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest
from audit_support import BAD, CLEAN, OLD_POISON, SRC, flag, new_guard, quarantined, served, with_detectors

from ragguard import Action, DropReason, Guard, Settings
from ragguard.audit import (
    EXIT_CLEAN,
    EXIT_INTEGRITY,
    EXIT_NEW_FINDINGS,
    AuditReason,
    AuditReport,
    FindingStatus,
    in_shard,
)
from ragguard.provenance.seal import SEAL_KEY
from ragguard.testing import FakeEmbedder, edit_seal, make_guard


def _reasons(report: AuditReport, collection: str = "served") -> dict[str, str]:
    return {f.chunk_id: f.reason.value for f in report.integrity_failures if f.collection == collection}


def test_clean_store_is_clean() -> None:
    g = new_guard()
    g.ingest(CLEAN, source=SRC)
    report = g.audit()
    assert report.exit_code == EXIT_CLEAN and report.clean
    assert report.integrity_failures == () and report.findings == ()
    assert report.counts.served == len(CLEAN) and report.counts.verified == len(CLEAN)
    assert report.to_dict()["exit_code"] == 0


@pytest.mark.parametrize("move", [False, True])
def test_a_keyring_that_verifies_nothing_is_a_wrong_key_not_tampering(move: bool) -> None:
    from ragguard.errors import SigningKeyError
    from ragguard.provenance import Keyring

    g = new_guard()
    g.ingest([*CLEAN, BAD], source=SRC)
    before = (served(g).count(), quarantined(g).count())
    wrong = Guard(g.store, g.embedder, settings=g.settings, keyring=Keyring.generate(), detectors=[flag()])
    with pytest.raises(SigningKeyError, match=r"none of the \d+ stored chunks verifies with this keyring"):
        wrong.audit(quarantine=move)
    assert (served(g).count(), quarantined(g).count()) == before  # nothing was moved
    # Still so once an earlier audit has moved a planted chunk out as-is (evidence it does not verify again).
    planted = "Planted around the guard."
    served(g).add(["planted"], g.embedder.embed([planted]), [planted], [{}])
    assert [m.chunk_id for m in g.audit(quarantine=True).moved] == ["planted"]  # held as evidence from now on
    before = (served(g).count(), quarantined(g).count())
    with pytest.raises(SigningKeyError, match=r"none of the \d+ stored chunks verifies with this keyring"):
        wrong.audit(quarantine=move)
    assert (served(g).count(), quarantined(g).count()) == before
    # One chunk that does verify among foreign ones is a real integrity finding, not a key problem.
    foreign = Guard(g.store, g.embedder, settings=g.settings, keyring=Keyring.generate(), detectors=[])
    foreign.ingest(["A planted passage sealed by someone else's key."], source=SRC)
    assert g.audit().exit_code == EXIT_INTEGRITY


def test_quarantined_chunks_with_valid_seals_are_fine() -> None:
    g = new_guard()
    g.ingest([*CLEAN, BAD], source=SRC)
    report = g.audit()
    assert report.exit_code == EXIT_CLEAN
    assert report.counts.quarantined == 1 and report.counts.served == len(CLEAN)


def _tamper_setup() -> tuple[Guard, str, str]:
    g = new_guard()
    rep = g.ingest([*CLEAN, BAD], source=SRC)
    first = rep.records[0].chunks[0].chunk_id
    qid = rep.records[-1].chunks[0].chunk_id
    return g, first, qid


def _edit_text(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    served(g).raw_set(cid, row.text.replace("1901", "1921"), row.embedding, row.metadata)
    return cid


def _replace_embedding(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    served(g).raw_set(cid, row.text, -np.asarray(row.embedding), row.metadata)
    return cid


def _flip_action(g: Guard, cid: str, qid: str) -> str:
    row = quarantined(g).get([qid])[0]
    quarantined(g).delete([qid])
    served(g).raw_set(qid, row.text, row.embedding, edit_seal(row.metadata, action="allow"))
    return qid


def _add_unsealed(g: Guard, cid: str, qid: str) -> str:
    served(g).raw_set("planted", BAD, g.embedder.embed([BAD])[0], {"source": "https://evil.example"})
    return "planted"


def _copy_seal_to_other_text(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    served(g).raw_set("copied", OLD_POISON, g.embedder.embed([OLD_POISON])[0], row.metadata)
    return "copied"


def _copy_seal_same_id(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    served(g).raw_set(cid, OLD_POISON, g.embedder.embed([OLD_POISON])[0], row.metadata)
    return cid


def _change_source(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    served(g).raw_set(cid, row.text, row.embedding, edit_seal(row.metadata, source="https://trusted.example"))
    return cid


def _change_user_metadata(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    served(g).raw_set(cid, row.text, row.embedding, {**row.metadata, "title": "edited"})
    return cid


def _unknown_key(g: Guard, cid: str, qid: str) -> str:
    other = new_guard()  # another deployment, another key
    rep = other.ingest([OLD_POISON], source=SRC)
    oid = rep.records[0].chunks[0].chunk_id
    row = served(other).get([oid])[0]
    served(g).raw_set(oid, row.text, row.embedding, row.metadata)
    return oid


def _unreadable_seal(g: Guard, cid: str, qid: str) -> str:
    row = served(g).get([cid])[0]
    cut_short = str(row.metadata[SEAL_KEY])[:-9]
    served(g).raw_set(cid, row.text, row.embedding, {**row.metadata, SEAL_KEY: cut_short})
    return cid


def _quarantined_copied_back(g: Guard, cid: str, qid: str) -> str:
    row = quarantined(g).get([qid])[0]
    served(g).raw_set(qid, row.text, row.embedding, row.metadata)
    return qid


def _allowed_copy_also_in_quarantine(g: Guard, cid: str, qid: str) -> str:
    # A valid 'allow' seal, but the id is also held in quarantine: written back around the guard.
    row = served(g).get([cid])[0]
    quarantined(g).raw_set(cid, row.text, row.embedding, row.metadata)
    return cid


TAMPERING: dict[str, tuple[Callable[[Guard, str, str], str], str]] = {
    "edited text": (_edit_text, DropReason.TEXT_MISMATCH.value),
    "replaced embedding": (_replace_embedding, DropReason.EMBEDDING_MISMATCH.value),
    "action flipped to allow": (_flip_action, DropReason.BAD_SIGNATURE.value),
    "chunk added without a seal": (_add_unsealed, DropReason.UNSEALED.value),
    "valid seal copied onto other text (new id)": (_copy_seal_to_other_text, DropReason.ID_MISMATCH.value),
    "valid seal copied onto other text (same id)": (_copy_seal_same_id, DropReason.TEXT_MISMATCH.value),
    "source changed": (_change_source, DropReason.BAD_SIGNATURE.value),
    "caller metadata changed": (_change_user_metadata, DropReason.METADATA_MISMATCH.value),
    "unknown key": (_unknown_key, DropReason.UNKNOWN_KEY.value),
    "unreadable seal": (_unreadable_seal, DropReason.MALFORMED_SEAL.value),
    "quarantined chunk copied back": (_quarantined_copied_back, DropReason.NOT_ALLOWED.value),
    "allowed copy also in quarantine": (_allowed_copy_also_in_quarantine, AuditReason.ALSO_QUARANTINED.value),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_every_tampering_case_is_an_integrity_failure(case: str) -> None:
    g, cid, qid = _tamper_setup()
    tamper, reason = TAMPERING[case]
    target = tamper(g, cid, qid)
    report = g.audit()
    assert _reasons(report) == {target: reason}
    assert report.exit_code == EXIT_INTEGRITY
    failure = report.integrity_failures[0]
    assert failure.explanation and failure.to_dict()["reason"] == reason
    assert report.by_reason() == {reason: 1}


def test_revoked_key_is_an_integrity_failure_in_both_collections() -> None:
    g, _, qid = _tamper_setup()
    ring = g.keyring()
    old = ring.active_id
    assert old is not None
    ring.rotate()
    assert g.audit().exit_code == EXIT_CLEAN  # rotation alone keeps old seals valid
    ring.revoke(old)
    report = g.audit()
    assert report.exit_code == EXIT_INTEGRITY
    assert set(_reasons(report).values()) == {DropReason.REVOKED_KEY.value}
    assert len(_reasons(report)) == len(CLEAN)
    assert _reasons(report, "quarantine") == {qid: DropReason.REVOKED_KEY.value}


def test_tampered_quarantine_entry_is_reported() -> None:
    g, _, qid = _tamper_setup()
    row = quarantined(g).get([qid])[0]
    quarantined(g).raw_set(qid, row.text + " and more", row.embedding, row.metadata)
    report = g.audit()
    assert _reasons(report, "quarantine") == {qid: DropReason.TEXT_MISMATCH.value}
    assert report.exit_code == EXIT_INTEGRITY


def test_revoked_source_is_withheld_not_a_failure() -> None:
    g = new_guard()
    g.ingest(CLEAN, source=SRC)
    later = Guard(
        g.store, g.embedder, settings=Settings(revoked_sources=["https://wiki.example/*"]), keyring=g.keyring(),
        detectors=[flag()],
    )  # fmt: skip
    report = later.audit()
    assert report.exit_code == EXIT_CLEAN
    assert report.counts.withheld == len(CLEAN) and report.counts.verified == 0


def test_interrupted_release_is_not_tampering() -> None:
    g, _, qid = _tamper_setup()
    before = quarantined(g).get([qid])[0]
    g.release(qid)
    # Crash between the served write and the quarantine delete: both copies exist.
    quarantined(g).raw_set(qid, before.text, before.embedding, before.metadata)
    report = g.audit()
    assert report.integrity_failures == ()
    assert report.counts.interrupted_releases == 1


def test_new_rule_catches_old_poison() -> None:
    g = new_guard(detectors=[])  # ingest with no detectors: everything is served
    g.ingest([*CLEAN, OLD_POISON], source=SRC)
    assert served(g).count() == len(CLEAN) + 1
    today = with_detectors(g, [flag(r"albert einstein", 0.7, name="einstein", code="RG-TEST-EIN")])
    report = today.audit()
    assert report.exit_code == EXIT_NEW_FINDINGS
    (finding,) = report.findings
    assert finding.status is FindingStatus.NEW and finding.code == "RG-TEST-EIN" and finding.detector == "einstein"
    assert finding.action is Action.QUARANTINE and finding.source == SRC
    assert "Einstein" in finding.preview
    row = report.to_dict()["findings"][0]
    assert {"id", "detector", "code", "score", "explanation", "status"} <= set(row)
    assert report.counts.offending_chunks == 1


def test_todays_policy_and_trust_apply() -> None:
    g = new_guard(detectors=[])
    g.ingest([OLD_POISON], source=SRC, trust="trusted")
    rule = flag(r"albert einstein", 0.7)  # 0.7 < 0.8: a trusted source is not quarantined
    assert with_detectors(g, [rule]).audit().exit_code == EXIT_CLEAN
    assert with_detectors(g, [rule]).audit().counts.below_threshold == 1
    # Today's configuration lowers the source to untrusted: the same finding now counts.
    strict = Settings(sources=[{"pattern": "https://wiki.example/*", "trust": "untrusted"}])
    today = Guard(g.store, g.embedder, settings=strict, keyring=g.keyring(), detectors=[rule])
    assert today.audit().exit_code == EXIT_NEW_FINDINGS


def test_released_chunks_are_reported_but_not_new() -> None:
    g = new_guard()
    rep = g.ingest([*CLEAN, BAD], source=SRC)
    qid = rep.records[-1].chunks[0].chunk_id
    g.release(qid)
    report = g.audit()
    assert report.exit_code == EXIT_CLEAN
    assert [(f.chunk_id, f.status) for f in report.findings] == [(qid, FindingStatus.RELEASED)]
    assert report.counts.released_findings == 1 and report.counts.new_findings == 0


class SwappingEmbedder(FakeEmbedder):
    """Same model id, but embeds one text as if it were another (a swapped-weights stand-in)."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return super().embed([CLEAN[1] if "Everest" in t else t for t in texts])


def test_reembed_finds_a_swapped_vector() -> None:
    g = make_guard(detectors=[flag()])
    honest = g.embedder
    g.embedder = SwappingEmbedder()
    g.ingest(CLEAN, source=SRC)  # the seal is valid: the vector was made by the bad embedder
    g.embedder = honest
    assert g.audit().exit_code == EXIT_CLEAN  # without re-embedding, nothing to see
    report = g.audit(reembed=True)
    assert report.exit_code == EXIT_INTEGRITY
    (failure,) = report.integrity_failures
    assert failure.reason is AuditReason.SWAPPED_VECTOR and "Everest" in failure.preview
    assert report.counts.reembedded == len(CLEAN)


def test_reembed_skips_chunks_from_another_model() -> None:
    g = new_guard()
    g.ingest(CLEAN[:2], source=SRC)
    g.embedder = FakeEmbedder(model_id="another/model")
    report = g.audit(reembed=True)
    assert report.exit_code == EXIT_CLEAN and report.counts.reembed_skipped == 2


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_cover_every_chunk_exactly_once(n: int) -> None:
    g = new_guard()
    texts = [f"Passage {i} about rivers, mountains and the city number {i}." for i in range(40)]
    g.ingest([*texts, BAD], source=SRC)
    seen: list[str] = []
    quarantine_seen = 0
    for i in range(n):
        report = g.audit(shard=(i, n))
        seen.extend(c.id for c in served(g).page(0, 1000) if in_shard(c.id, (i, n)))
        quarantine_seen += report.counts.quarantined
        assert report.counts.served == sum(in_shard(c.id, (i, n)) for c in served(g).page(0, 1000))
    assert sorted(seen) == sorted(c.id for c in served(g).page(0, 1000))
    assert quarantine_seen == 1


def test_shard_findings_add_up() -> None:
    g = new_guard(detectors=[])
    texts = [f"Passage {i}: Albert Einstein visited the city number {i}." for i in range(12)]
    g.ingest(texts, source=SRC)
    today = with_detectors(g, [flag("einstein")])
    total = sum(len(today.audit(shard=(i, 3)).findings) for i in range(3))
    assert total == len(today.audit().findings) == 12


def test_invalid_shard_and_page_size() -> None:
    g = new_guard()
    g.ingest(CLEAN, source=SRC)
    with pytest.raises(ValueError):
        g.audit(shard=(3, 3))
    with pytest.raises(ValueError):
        g.audit(update_baseline=True)


def test_pages_stream_with_progress() -> None:
    g = new_guard()
    texts = [f"Passage {i} about the river number {i}." for i in range(23)]
    g.ingest([*texts, BAD], source=SRC)
    calls: list[tuple[int, int]] = []
    from ragguard.audit import run_audit

    report = run_audit(g, page_size=5, progress=lambda d, t: calls.append((d, t)))
    assert report.counts.served == 23 and report.counts.quarantined == 1
    assert calls[-1] == (24, 24) and len(calls) == 6  # 5 pages of served, 1 of quarantine


def test_store_must_exist() -> None:
    from ragguard.errors import StoreError

    with pytest.raises(StoreError):
        make_guard().audit()


def test_a_verify_only_keyring_audits_but_cannot_quarantine() -> None:
    from ragguard.errors import SigningKeyError
    from ragguard.provenance import Keyring

    ring = Keyring.generate("ed25519")
    g = new_guard(detectors=[], keyring=ring)
    g.ingest([*CLEAN, OLD_POISON], source=SRC)
    public = Guard(g.store, g.embedder, keyring=ring.public(), detectors=[flag("einstein")])
    assert public.audit().exit_code == EXIT_NEW_FINDINGS
    with pytest.raises(SigningKeyError):
        public.audit(quarantine=True)
    assert served(g).count() == len(CLEAN) + 1  # nothing moved
