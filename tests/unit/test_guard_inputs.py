"""Bad input and hostile rows through the guard: refused before anything is stored, or dropped, never a broken query."""

from __future__ import annotations

import numpy as np
import pytest
from test_guard import CLEAN, guard, quarantined, served

from ragguard import DropReason, Guard
from ragguard.errors import ConfigurationError, InputError, IntegrityError, StoreError
from ragguard.provenance import Keyring
from ragguard.testing import FakeEmbedder
from ragguard.types import Finding


def test_bad_records_fail_before_anything_is_stored() -> None:
    g = guard()
    g.ingest(CLEAN[:1], source="s")
    for bad, msg in [
        ([{"text": ""}], "empty"),
        ([{"text": "   \n"}], "empty"),
        ([{"text": "a\x00b"}], "NUL"),
        ([{"id": "x", "text": "ok", "metadata": {"k": {"nested": 1}}}], "'k' is a dict"),
        ([{"text": "ok", "metadata": {"rg_action": "allow"}}], "reserved prefix"),
        ([{"text": "ok", "metadata": {"k": "v" * 10_000}}], "longer than"),
        ([{"no_text": 1}], "'text' is missing"),
        ([42], "expected a string"),
        # Lone surrogates: UTF-8 cannot encode them, so the store and every JSON answer would fail on them.
        ([{"text": "a \ud800 b"}], r"record 1: text holds a lone surrogate \(U\+D800\) at position 2"),
        ([{"id": "\udc80", "text": "ok"}], r"record '\\udc80': 'id' holds a lone surrogate"),
        ([{"text": "ok", "source": "urn:\ud800"}], "'source' holds a lone surrogate"),
        ([{"text": "ok", "metadata": {"k": "\ud800"}}], "metadata 'k' holds a lone surrogate"),
        ([{"text": "ok", "metadata": {"k\ud800": 1}}], "metadata key .* holds a lone surrogate"),
        # What the store cannot keep as given: it would come back other than sealed, and never be served.
        ([{"text": "ok", "metadata": {"hash": 2**63 + 5}}], "'hash' is an integer outside 64 bits"),
        ([{"text": "ok", "metadata": {"x": float("inf")}}], "only finite numbers"),
        ([{"text": "ok", "metadata": {"#tag": "x"}}], "key '#tag' starts with '#', which the vector store reserves"),
        ([{"text": "ok", "metadata": {"chroma:document": "x"}}], "reserves"),
        ([{"text": "ok", "metadata": {"audit_reason": "x"}}], "reserved for the audit's evidence"),
    ]:
        with pytest.raises(InputError, match=msg):
            g.ingest([CLEAN[1], *bad], source="s")
    assert served(g).count() == 1


def test_a_sealed_lone_surrogate_from_an_older_release_is_dropped_and_never_breaks_a_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    import ragguard.records

    g = guard()
    g.ingest(CLEAN, source="s")
    # Before ingest refused them, a record id holding a lone surrogate was sealed as the chunk's doc_id.
    monkeypatch.setattr(ragguard.records, "validate_utf8", lambda *a: None)
    g.ingest([{"id": "old-\ud800", "text": CLEAN[0] + " Planted under an unencodable record id."}], source="s")
    monkeypatch.undo()
    result = g.search(CLEAN[0], k=len(CLEAN) + 1)
    assert [d.reason for d in result.dropped] == [DropReason.MALFORMED_SEAL]
    assert len(result.hits) == len(CLEAN)
    json.dumps(result.to_dict(CLEAN[0]), ensure_ascii=False).encode("utf-8")  # the answer can be sent
    report = g.audit()
    assert [f.reason for f in report.integrity_failures] == [DropReason.MALFORMED_SEAL]


def test_metadata_chroma_gives_back_otherwise_is_sealed_as_it_comes_back(tmp_path) -> None:
    from ragguard.stores import ChromaStore

    g = Guard(ChromaStore(path=tmp_path / "s"), FakeEmbedder(), keyring=Keyring.generate(), detectors=[])
    rec = {"text": "Station 12 temperature anomaly report.", "metadata": {"anomaly_c": round(-0.04, 1), "n": 2**63 - 1}}
    assert g.ingest([rec], source="s").counts()["allowed"] == 1
    hit = g.search("temperature anomaly", k=1)
    assert not hit.dropped and hit.hits[0].metadata == {"anomaly_c": 0.0, "n": 2**63 - 1}  # -0.0 reads back as 0.0
    assert g.ingest([rec], source="s").counts()["unchanged"] == 1
    assert g.audit().exit_code == 0


def test_search_never_raises_on_garbage_rows() -> None:
    g = guard()
    g.ingest(CLEAN, source="s")
    col = served(g)
    col.raw_set("rg-garbage", "x", np.zeros(64, dtype=np.float32), {"rg_sig": "zz", "rg_v": "banana"})
    res = g.search("Paris", k=10)
    assert len(res.hits) == 4
    assert res.drop_counts() == {"malformed_seal": 1}


@pytest.mark.parametrize(
    "hostile",
    [
        {"rg_seal": "v2.AAAA." + "[" * 5000, "rg_trust": "trusted"},  # nests past the recursion limit
        {"rg_seal": "v2.AAAA.{}", "rg_trust": "trusted"},
        {"rg_sig": "zz", "rg_v": 1, "rg_findings": "[" * 5000},  # layout 1 with hostile findings
    ],
)
def test_a_hostile_seal_never_breaks_search_audit_or_quarantine(hostile: dict) -> None:
    g = guard()
    g.ingest(CLEAN, source="s")
    vec = g.embedder.embed(["Paris"])[0]
    served(g).raw_set("rg-hostile", "Paris is nice.", vec, hostile)
    quarantined(g).raw_set("rg-hostile-q", "Paris is nice.", vec, hostile)
    assert g.search("Paris", k=10).drop_counts() == {"malformed_seal": 1}
    report = g.audit()
    assert {(f.chunk_id, f.reason.value) for f in report.integrity_failures} >= {("rg-hostile", "malformed_seal")}
    entries = {e.id: e for e in g.quarantine_list()}
    assert not entries["rg-hostile-q"].seal_valid and entries["rg-hostile-q"].findings == ()
    assert not g.quarantine_get("rg-hostile-q").seal_valid
    with pytest.raises(IntegrityError):
        g.release("rg-hostile-q")


def test_first_ingests_from_two_threads_seal_with_one_saved_key(tmp_path) -> None:
    import threading

    from ragguard.stores.memory import InMemoryStore

    for trial in range(20):
        g = Guard(InMemoryStore(), FakeEmbedder(), key_dir=tmp_path / str(trial), detectors=[])
        start = threading.Barrier(2)

        def first_ingest(i: int, g: Guard = g, start: threading.Barrier = start, trial: int = trial) -> None:
            start.wait()
            g.ingest([f"text number {i} of trial {trial}"], source="s")

        threads = [threading.Thread(target=first_ingest, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Every chunk verifies under the key saved in the store's folder, as a later process reads it.
        reopened = Guard(g.store, FakeEmbedder(), key_dir=tmp_path / str(trial), detectors=[])
        ids = [c.id for c in served(g).page(0, 10, include_embeddings=False)]
        assert len(ids) == 2
        assert all(reason is None for _, reason in reopened.verify_stored(ids).values()), trial


def test_a_store_gone_away_while_listing_collections_is_a_store_error() -> None:
    from ragguard.stores import ChromaStore

    class _Gone:
        def list_collections(self) -> list[str]:
            raise ConnectionRefusedError(111, "Connection refused")

    store = ChromaStore(url="http://127.0.0.1:9")
    store._client = _Gone()  # connected once, then the server went away
    with pytest.raises(StoreError, match="cannot list the collections of Chroma server http://127.0.0.1:9"):
        store.has_collection("ragguard")


@pytest.mark.parametrize("lists", [1, 4])
def test_a_detector_answering_for_the_wrong_number_of_chunks_fails_closed(lists: int) -> None:
    class _Miscounts:
        name = "miscounts"

        def detect(self, batch: object) -> list[list[Finding]]:
            return [[Finding(self.name, "RG-TEST-009", 0.99, "always.")] for _ in range(lists)]

    g = guard(detectors=[_Miscounts()])
    with pytest.raises(ConfigurationError, match="'miscounts' returned .* lists of findings for 3 chunks"):
        g.ingest(CLEAN[:3], source="s")  # one list for three chunks used to allow the other two
    assert served(g).count() == 0  # nothing was stored
