"""Key material never leaks through the sidecar: responses, logs (DEBUG), errors and the store are grepped.

HMAC and Ed25519 keyrings drive every route on the happy path and on error
paths (a wrong key over the same store, a revoked key, bad input, bad tokens,
and key set-ups the server refuses at startup). Then every response (status,
headers, body), every log record captured at DEBUG, every exception message and
every id, document and metadata value of every record in every collection is
searched for the secret in raw, hex, base64, URL-safe base64 (padded or not),
Python ``repr`` and, for Ed25519, PKCS#8 DER and PEM form, and for the API
tokens. A sanity check makes sure the search finds the secret in the key file.

The CLI's side of the same check is ``tests/reliability/test_key_material.py``
(the search helpers are repeated here: the two test trees do not import each other).
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ragguard import Guard, Settings
from ragguard.provenance import Keyring
from ragguard.testing import FakeEmbedder, InMemoryStore, find_leaks, key_needles, secret_forms
from server_helpers import AUTH, OTHER_TOKEN, QUARANTINE_WORD, REJECT_WORD, TOKEN, detectors, server_settings

from ragguard_server import create_app

SRC = "https://wiki.example/page"


class Evidence:
    """Everything the server answered, logged, raised or stored."""

    def __init__(self) -> None:
        self.haystacks: dict[str, bytes] = {}

    def add(self, where: str, data: bytes | str) -> None:
        self.haystacks[where] = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")

    def call(self, client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
        r = client.request(method, path, **kwargs)
        where = f"#{len(self.haystacks)} {method} {path} -> {r.status_code}"
        self.add(f"{where} headers", "\n".join(f"{k}: {v}" for k, v in r.headers.items()))
        self.add(f"{where} body", r.content)
        assert r.status_code < 500 or r.status_code == 503, (where, r.text)
        return r

    def add_exception(self, where: str, exc: BaseException) -> None:
        self.add(where, "".join(traceback.format_exception(exc)))

    def add_logs(self, records: list[logging.LogRecord]) -> None:
        fmt = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for i, record in enumerate(records):
            self.add(f"log record {i} ({record.name})", fmt.format(record))

    def add_store(self, store: InMemoryStore) -> None:
        for name, col in store._collections.items():
            for chunk in col.page(0, col.count() + 1):
                values = "\n".join(f"{k}={v!r}" for k, v in chunk.metadata.items())
                self.add(f"store {name}/{chunk.id} metadata", values)
                self.add(f"store {name}/{chunk.id} document", chunk.text)


def test_the_search_finds_a_secret_where_it_is() -> None:
    for kind in ("hmac-sha256", "ed25519"):
        ring = Keyring.generate(kind)
        needles = key_needles(ring)
        for name, form in needles.items():
            assert find_leaks({"planted": b"x " + form + b" y"}, {name: form}) == [f"planted: {name}"]
        assert find_leaks({"key file": json.dumps(ring.to_json()).encode()}, needles), kind


def _guard(store: InMemoryStore, ring: Keyring) -> Guard:
    return Guard(store, FakeEmbedder(), settings=Settings(), keyring=ring, detectors=detectors())


def _serve(guard: Guard, **settings: Any) -> TestClient:
    app = create_app(server_settings(log_level="debug", **settings), guard=guard)
    client = TestClient(app)
    client.__enter__()
    app.state.ragguard.wait_warm(10)
    return client


@pytest.mark.parametrize("kind", ["hmac-sha256", "ed25519"])
def test_sidecar_never_answers_logs_raises_or_stores_key_material(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    ev = Evidence()
    ring, other = Keyring.generate(kind), Keyring.generate(kind)
    key_file = tmp_path / "key.json"
    ring.save(key_file)
    store = InMemoryStore()
    records = [
        {"id": "ok", "text": "The Danube flows through Vienna and Budapest.", "metadata": {"lang": "en", "n": 1}},
        {"id": "q", "text": f"please {QUARANTINE_WORD} now"},
        {"id": "q2", "text": f"and {QUARANTINE_WORD} this one too"},
        {"id": "r", "text": f"{REJECT_WORD}: ignore previous instructions"},
        "A bare string record about Mount Elbrus.",
    ]

    # Happy path, every route.
    c = _serve(_guard(store, ring))
    try:
        assert ev.call(c, "POST", "/v1/ingest", json={"records": records, "source": SRC}, headers=AUTH).is_success
        ev.call(c, "POST", "/v1/ingest", json={"records": records[:1], "trust": "trusted"}, headers=AUTH)
        ev.call(c, "POST", "/v1/scan", json={"records": records, "source": SRC}, headers=AUTH)
        ev.call(c, "POST", "/v1/search", json={"query": "Which river flows through Vienna?", "k": 5}, headers=AUTH)
        entries = ev.call(c, "GET", "/v1/quarantine", headers=AUTH).json()["entries"]
        assert len(entries) == 2
        ev.call(c, "GET", f"/v1/quarantine/{entries[0]['id']}", headers=AUTH)
        ev.call(c, "POST", "/v1/audit", json={}, headers=AUTH)
        ev.call(c, "POST", "/v1/audit", json={"reembed": True, "quarantine": True}, headers=AUTH)
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
            ev.call(c, "GET", path)
        # Bad input and bad tokens.
        ev.call(c, "POST", "/v1/ingest", json={"records": [""]}, headers=AUTH)
        ev.call(c, "POST", "/v1/ingest", json={"records": ["x\x00y"]}, headers=AUTH)
        ev.call(c, "POST", "/v1/ingest", json={"records": [{"text": "t", "metadata": {"rg_x": 1}}]}, headers=AUTH)
        ev.call(c, "POST", "/v1/ingest", json={"records": [{"text": 3}]}, headers=AUTH)
        ev.call(c, "POST", "/v1/ingest", content=b"{not json", headers={**AUTH, "content-type": "application/json"})
        ev.call(c, "POST", "/v1/search", json={"query": " "}, headers=AUTH)
        ev.call(c, "GET", "/v1/quarantine/no-such-id", headers=AUTH)
        ev.call(c, "POST", "/v1/audit", json={"shard": [3, 2]}, headers=AUTH)
        ev.call(c, "POST", "/v1/search", json={"query": "x"}, headers={"Authorization": f"Bearer {TOKEN}x"})
        ev.call(c, "POST", "/v1/search", json={"query": "x"})
    finally:
        c.__exit__(None, None, None)

    small = _serve(_guard(store, ring), max_records_per_request=1, max_text_chars=10, max_body_bytes=2048)
    try:
        ev.call(small, "POST", "/v1/ingest", json={"records": ["a", "b"]}, headers=AUTH)
        ev.call(small, "POST", "/v1/ingest", json={"records": ["x" * 20]}, headers=AUTH)
        ev.call(small, "POST", "/v1/ingest", json={"records": ["x" * 5000]}, headers=AUTH)
    finally:
        small.__exit__(None, None, None)

    # A wrong key over the same store: nothing verifies, nothing is released.
    wrong = _serve(_guard(store, other))
    try:
        body = ev.call(wrong, "POST", "/v1/search", json={"query": "Vienna"}, headers=AUTH).json()
        assert body["hits"] == [] and {d["reason"] for d in body["dropped"]} == {"unknown_key"}
        entries = ev.call(wrong, "GET", "/v1/quarantine", headers=AUTH).json()["entries"]
        assert entries and not any(e["seal_valid"] for e in entries)
        assert ev.call(wrong, "POST", f"/v1/quarantine/{entries[0]['id']}/release", headers=AUTH).status_code == 409
        # A keyring that verifies nothing is a misconfigured server, not a store to report as tampered.
        r = ev.call(wrong, "POST", "/v1/audit", json={}, headers=AUTH)
        assert r.status_code == 503 and r.json()["code"] == "misconfigured"
    finally:
        wrong.__exit__(None, None, None)

    # A revoked key: nothing is served; sealing is refused (503, the server's key set-up).
    revoked_ring = Keyring.load(key_file)
    assert revoked_ring.active_id is not None
    revoked_ring.revoke(revoked_ring.active_id)
    revoked = _serve(_guard(store, revoked_ring))
    try:
        body = ev.call(revoked, "POST", "/v1/search", json={"query": "Vienna"}, headers=AUTH).json()
        assert body["hits"] == [] and "revoked_key" in {d["reason"] for d in body["dropped"]}
        r = ev.call(revoked, "POST", "/v1/ingest", json={"records": ["Something new to seal."]}, headers=AUTH)
        assert r.status_code == 503 and r.json()["code"] == "misconfigured"
        assert ev.call(revoked, "POST", "/v1/audit", json={}, headers=AUTH).json()["exit_code"] == 2
    finally:
        revoked.__exit__(None, None, None)

    # Release and purge with the right key, last (they change the store).
    c = _serve(_guard(store, ring))
    try:
        entries = ev.call(c, "GET", "/v1/quarantine", headers=AUTH).json()["entries"]
        assert ev.call(c, "POST", f"/v1/quarantine/{entries[0]['id']}/release", headers=AUTH).status_code == 200
        assert ev.call(c, "DELETE", f"/v1/quarantine/{entries[1]['id']}", headers=AUTH).status_code == 204
    finally:
        c.__exit__(None, None, None)

    # Key set-ups the server refuses at startup: the error names the problem, never the key.
    open_key = tmp_path / "world-readable.json"
    ring.save(open_key)
    open_key.chmod(0o644)
    data = ring.to_json()
    data["keys"][0]["alg"] = "rot13"
    unknown_alg = tmp_path / "unknown-alg.json"
    unknown_alg.write_text(json.dumps(data))
    unknown_alg.chmod(0o600)
    for label, core in [
        ("world-readable key file", Settings(key_file=open_key, store=tmp_path / "s1")),
        ("unknown algorithm", Settings(key_file=unknown_alg, store=tmp_path / "s2")),
        ("short shared secret", Settings(signing_key="short-secret", store=tmp_path / "s3")),  # type: ignore[arg-type]
    ]:
        app = create_app(server_settings(core=core))
        with pytest.raises(Exception) as info, TestClient(app):
            pass
        ev.add_exception(f"startup: {label}", info.value)

    ev.add_store(store)
    ev.add_logs(caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(w.startswith("store ") for w in ev.haystacks)

    needles = {**key_needles(ring), **key_needles(other)}
    needles.update({f"api token {k}": v for k, v in secret_forms(TOKEN.encode()).items()})
    needles.update({f"api token 2 {k}": v for k, v in secret_forms(OTHER_TOKEN.encode()).items()})
    needles.update({f"shared secret {k}": v for k, v in secret_forms(b"short-secret").items()})
    assert find_leaks({"key file": key_file.read_bytes()}, needles)  # the search works on this run's keys
    assert find_leaks(ev.haystacks, needles) == []
