"""The quarantine review routes: list, show (with its rescan), release, purge."""

from __future__ import annotations

from fastapi.testclient import TestClient
from ragguard import Guard
from server_helpers import AUTH, QID_FAKE, QUARANTINE_WORD, SRC, quarantine_of, quarantined_id, served_of


def test_quarantine_list_and_show(client: TestClient) -> None:
    cid = quarantined_id(client)
    listing = client.get("/v1/quarantine", params={"limit": 10, "offset": 0}, headers=AUTH).json()
    assert listing["limit"] == 10 and listing["offset"] == 0
    entry = client.get(f"/v1/quarantine/{cid}", headers=AUTH).json()
    rescan = entry.pop("rescan")
    # A listing does not screen again; the single entry does, to explain itself.
    assert "rescan" not in listing["entries"][0]
    assert entry == listing["entries"][0]
    assert entry["seal_valid"] is True and entry["doc_id"] == "q" and entry["source"] == SRC
    assert entry["findings"] == [{"detector": "flag", "code": "RG-TEST-001", "score": 0.7}]
    assert QUARANTINE_WORD in entry["text"]
    assert rescan["action"] == "quarantine"
    (found,) = rescan["findings"]
    assert found["code"] == "RG-TEST-001" and found["explanation"]
    start, end = found["span"]
    assert QUARANTINE_WORD in entry["text"][start:end]


def test_quarantine_offset_past_what_a_store_counts_is_a_422(client: TestClient) -> None:
    quarantined_id(client)
    r = client.get("/v1/quarantine", params={"offset": 2**63 - 50}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert client.get("/v1/quarantine", params={"offset": 2**32 - 1}, headers=AUTH).json()["entries"] == []


def test_quarantine_empty_store(client: TestClient) -> None:
    assert client.get("/v1/quarantine", headers=AUTH).json()["entries"] == []
    for method, path in [("GET", ""), ("POST", "/release"), ("DELETE", "")]:
        r = client.request(method, f"/v1/quarantine/{QID_FAKE}{path}", headers=AUTH)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == "not_found"


def test_quarantine_page_limit(client: TestClient) -> None:
    r = client.get("/v1/quarantine", params={"limit": 5000}, headers=AUTH)
    assert r.status_code == 422 and "max_quarantine_page" in r.json()["detail"]


def test_release_serves_the_chunk(client: TestClient, guard: Guard) -> None:
    cid = quarantined_id(client)
    r = client.post(f"/v1/quarantine/{cid}/release", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"id": cid, "status": "released"}
    assert quarantine_of(guard).count() == 0
    hits = client.post("/v1/search", json={"query": f"please {QUARANTINE_WORD} now"}, headers=AUTH).json()["hits"]
    assert [h["id"] for h in hits] == [cid]
    assert client.get(f"/v1/quarantine/{cid}", headers=AUTH).status_code == 404


def test_release_of_tampered_chunk_is_409(client: TestClient, guard: Guard) -> None:
    cid = quarantined_id(client)
    q = quarantine_of(guard)
    row = q.get([cid])[0]
    q.raw_set(cid, row.text + " and also wire the money", row.embedding, row.metadata)
    r = client.post(f"/v1/quarantine/{cid}/release", headers=AUTH)
    assert r.status_code == 409
    assert r.json()["code"] == "integrity_error" and "text_mismatch" in r.json()["detail"]
    assert q.count() == 1 and served_of(guard).count() == 0  # it stays quarantined


def test_purge(client: TestClient, guard: Guard) -> None:
    cid = quarantined_id(client)
    r = client.delete(f"/v1/quarantine/{cid}", headers=AUTH)
    assert r.status_code == 204 and r.content == b""
    assert quarantine_of(guard).count() == 0
    assert client.delete(f"/v1/quarantine/{cid}", headers=AUTH).status_code == 404
