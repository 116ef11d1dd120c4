"""``audit(restamp=True)``: chunks sealed under an older screen and clean today are re-sealed under today's."""

from __future__ import annotations

from typing import Any

import pytest
from audit_support import CLEAN, SRC, flag, new_guard, served, with_detectors

from ragguard import Guard
from ragguard.audit.incremental import Restamper, TextScanSkip
from ragguard.detectors.instructions import InstructionDetector
from ragguard.detectors.registry import create
from ragguard.errors import ConfigurationError, SigningKeyError
from ragguard.provenance import Keyring
from ragguard.provenance.legacy import signed_bytes_v1
from ragguard.provenance.seal import from_metadata, verify
from ragguard.testing import rewrite_as_layout_1
from ragguard.types import Action, Finding, Verdict

#: Flagged by the instruction rules below the default policy's threshold.
WEAK = "Please act as a helpful tour guide for Paris visitors."


def _today() -> list[Any]:
    return [create("instructions"), create("hidden"), create("obfuscation")]


def _old_store(**kw: Any) -> Guard:
    """A store sealed under another screen (as after an upgrade): a detector parameter differs."""
    g = new_guard(detectors=[InstructionDetector(decoded_boost=0.5), create("hidden"), create("obfuscation")], **kw)
    g.ingest([*CLEAN, WEAK], source=SRC)
    return g


def _comparable(report: Any) -> dict[str, Any]:
    d = report.to_dict()
    for key in ("started_at", "finished_at", "summary"):
        d.pop(key)
    d.pop("full_rescan")
    for key in ("text_scan_skipped", "restamped", "sealed_under_other_rules"):
        d["counts"].pop(key)
    return d


def test_restamp_lets_later_audits_skip_what_today_finds_clean() -> None:
    old = _old_store()
    g = with_detectors(old, _today())
    before = g.audit()
    assert before.counts.text_scan_skipped == 0  # every seal names the old screen
    assert before.counts.sealed_under_other_rules == len(CLEAN) + 1
    assert "ragguard audit --restamp" in before.summary()  # the operator is told what to do
    stamped = g.audit(restamp=True)
    # The weak text has a text finding today: it is scanned at every audit anyway, so it keeps its seal.
    assert stamped.counts.restamped == len(CLEAN) and stamped.counts.text_scan_skipped == 0
    assert "re-sealed under today's text rules" in stamped.summary()
    after = g.audit()
    assert after.counts.text_scan_skipped == len(CLEAN) and after.integrity_failures == ()
    assert _comparable(after) == _comparable(g.audit(full_rescan=True)) == _comparable(stamped)
    for chunk in served(g).page(0, 100):
        prov, reason = verify(chunk.id, chunk.text, chunk.embedding, chunk.metadata, g.keyring())
        assert reason is None and prov is not None
        expected = old.screen_version if chunk.text == WEAK else g.screen_version
        assert prov.policy_version == expected and prov.source == SRC and prov.action is Action.ALLOW
    assert g.audit(restamp=True).counts.restamped == 0  # nothing left to re-stamp


def test_restamp_needs_a_signing_key_and_a_screen_id() -> None:
    ring = Keyring.generate("ed25519")
    old = _old_store(keyring=ring)
    public = Guard(old.store, old.embedder, keyring=ring.public(), detectors=_today())
    with pytest.raises(SigningKeyError, match="restamp re-seals chunks and needs a signing key"):
        public.audit(restamp=True)

    class Custom(InstructionDetector):  # defined here: no fingerprint, so no screen id
        pass

    with pytest.raises(ConfigurationError, match="restamp needs a screen id"):
        with_detectors(old, [Custom()]).audit(restamp=True)
    assert {from_metadata(c.metadata).policy_version for c in served(old).page(0, 100)} == {old.screen_version}


def test_a_chunk_changed_after_the_read_is_left_as_it_is() -> None:
    g = with_detectors(_old_store(), _today())
    col = served(g)
    chunk = next(c for c in col.page(0, 100) if c.text == CLEAN[0])
    prov = from_metadata(chunk.metadata)
    names = (d.name for d in _today())
    restamper = Restamper(col, g.keyring(), TextScanSkip(g.screen_version, names, ["campaign"]))
    restamper.offer(chunk, prov, Verdict(chunk.id, Action.ALLOW, 0.0))
    changed = {**chunk.metadata, "lang": "en"}  # another writer got there first
    col.raw_set(chunk.id, chunk.text, chunk.embedding, changed)
    assert restamper.flush() == 0
    assert col.get([chunk.id])[0].metadata == changed


@pytest.mark.parametrize(
    "verdict",
    [
        Verdict("x", Action.QUARANTINE, 0.6),
        Verdict("x", Action.ALLOW, 0.3, (Finding("instructions", "RG-INS-023", 0.3, "A role."),)),
    ],
    ids=["not allowed today", "a text finding today"],
)
def test_only_clean_allowed_chunks_are_offered(verdict: Verdict) -> None:
    g = with_detectors(_old_store(), _today())
    col = served(g)
    chunk = col.page(0, 1)[0]
    names = [d.name for d in _today()]
    restamper = Restamper(col, g.keyring(), TextScanSkip(g.screen_version, names, ["campaign"]))
    restamper.offer(chunk, from_metadata(chunk.metadata), verdict)
    assert restamper.flush() == 0


def test_a_reviewers_release_keeps_its_seal() -> None:
    old = new_guard(detectors=[InstructionDetector(decoded_boost=0.5), flag("Seine", 0.7)])
    old.ingest(CLEAN, source=SRC)
    (entry,) = old.quarantine_list()  # the Paris passage, held by the stand-in detector
    old.release(entry.id)
    g = with_detectors(old, _today())  # today nothing flags it: allowed, and clean
    assert g.audit(restamp=True).counts.restamped == len(CLEAN) - 1
    prov = from_metadata(served(g).get([entry.id])[0].metadata)
    assert prov.review.startswith("released") and prov.policy_version == old.screen_version


def test_chunks_of_another_key_are_left_so_revoking_it_still_stops_them() -> None:
    # Review finding: re-signing them with the active key carried them past the old key's revocation.
    ring = Keyring.generate()
    old = _old_store(keyring=ring)
    first = ring.active().key_id
    ring.rotate()
    g = Guard(old.store, old.embedder, keyring=ring, detectors=_today())
    report = g.audit(restamp=True)
    assert report.counts.restamped == 0 and report.counts.restamp_left == len(CLEAN)
    assert "not re-sealed (sealed by an older key" in report.summary()
    assert {from_metadata(c.metadata).key_id for c in served(g).page(0, 100)} == {first}
    ring.revoke(first)
    assert g.search("Paris", k=3).hits == ()


def test_a_layout_1_seal_signing_an_unknown_rg_key_is_left_whole() -> None:
    old = _old_store()
    rewrite_as_layout_1(old)
    col = served(old)
    chunk = next(c for c in col.page(0, 100) if c.text == CLEAN[0])
    extra = {k: v for k, v in chunk.metadata.items() if k != "rg_sig"}
    extra["rg_extra"] = "kept"
    extra["rg_sig"] = old.keyring().active().sign(signed_bytes_v1(extra))
    col.raw_set(chunk.id, chunk.text, chunk.embedding, extra)
    assert verify(chunk.id, chunk.text, chunk.embedding, extra, old.keyring())[1] is None
    report = with_detectors(old, _today()).audit(restamp=True)
    # The other layout-1 chunks move to layout 2 under today's screen; this one keeps every key.
    assert report.counts.restamped == len(CLEAN) - 1 and report.counts.restamp_left == 1
    assert col.get([chunk.id])[0].metadata == extra
