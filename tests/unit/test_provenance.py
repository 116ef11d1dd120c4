from __future__ import annotations

import base64
import dataclasses
import json
import os
import pathlib
import stat
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragguard.errors import SigningKeyError
from ragguard.provenance import Ed25519Signer, HmacSigner, Keyring, canonical_bytes, chunk_id, embedding_digest
from ragguard.provenance.keyring import resolve_keyring
from ragguard.provenance.legacy import signed_bytes_v1, to_metadata_v1
from ragguard.provenance.seal import (
    MAX_SEAL_CHARS,
    SEAL_KEY,
    TRUST_KEY,
    claimed_provenance,
    decode_findings,
    from_metadata,
    seal,
    verify,
)
from ragguard.testing import edit_seal, forge_seal
from ragguard.types import Action, DropReason, Provenance, TrustTier


def _prov(**kw: object) -> Provenance:
    base = dict(
        chunk_id="rg-abc",
        source="https://wiki.example/a",
        doc_id="doc-1",
        chunk_index=0,
        text_sha256="",
        embedding_sha256="",
        metadata_sha256="",
        embedder="fake",
        embedder_digest="d" * 64,
        ingested_at="2026-11-28T00:00:00+00:00",
        trust=TrustTier.TRUSTED,
        action=Action.ALLOW,
        score=0.1,
        findings="[]",
        policy_version="1",
        key_id="",
        algorithm="",
    )
    base.update(kw)
    return Provenance(**base)  # type: ignore[arg-type]


def _sealed(ring: Keyring, text: str = "hello world", vec: np.ndarray | None = None) -> tuple[str, np.ndarray, dict]:
    from ragguard.provenance import metadata_digest, text_digest

    vec = np.arange(8, dtype=np.float32) / 10 if vec is None else vec
    prov = _prov(
        text_sha256=text_digest(text), embedding_sha256=embedding_digest(vec), metadata_sha256=metadata_digest({})
    )
    return text, vec, seal(prov, ring)


_RING_FOR_BODIES = Keyring.generate()
seal_module = sys.modules["ragguard.provenance.seal"]  # the package re-exports seal(), hiding the module


def _sealed_v1(ring: Keyring, text: str = "hello world") -> tuple[str, np.ndarray, dict]:
    """A layout-1 record, as stores written before layout 2 hold."""
    text, vec, meta = _sealed(ring, text)
    signer = ring.active()
    v1 = to_metadata_v1(from_metadata(meta))
    v1["rg_sig"] = signer.sign(signed_bytes_v1(v1))
    return text, vec, v1


def test_canonical_bytes_are_order_independent_and_compact() -> None:
    assert canonical_bytes({"b": 1, "a": "é"}) == canonical_bytes({"a": "é", "b": 1})
    assert canonical_bytes({"a": "é"}) == '{"a":"é"}'.encode()


def test_canonical_bytes_reject_nested_values() -> None:
    with pytest.raises(TypeError, match="not a scalar"):
        canonical_bytes({"a": [1]})


def test_chunk_id_is_content_addressed_and_normalised() -> None:
    assert chunk_id("s", "Hello\r\nworld  ") == chunk_id("s", "Hello\nworld")
    assert chunk_id("s", "Hello") != chunk_id("t", "Hello")
    assert chunk_id("s", "Hello") != chunk_id("s", "Hellp")


@pytest.mark.parametrize(
    "ring", [Keyring.generate("hmac-sha256"), Keyring.generate("ed25519")], ids=["hmac", "ed25519"]
)
def test_seal_verifies_and_binds_every_part(ring: Keyring) -> None:
    text, vec, meta = _sealed(ring)
    assert verify("rg-abc", text, vec, meta, ring)[1] is None
    assert verify("rg-abc", text + "!", vec, meta, ring)[1] is DropReason.TEXT_MISMATCH
    assert verify("rg-abc", text, vec * 2, meta, ring)[1] is DropReason.EMBEDDING_MISMATCH
    assert verify("rg-other", text, vec, meta, ring)[1] is DropReason.ID_MISMATCH
    assert verify("rg-abc", text, vec, {**meta, "extra": 1}, ring)[1] is DropReason.METADATA_MISMATCH
    assert (
        verify("rg-abc", text, vec, {**meta, "rg_action": "allow", "rg_source": "x"}, ring)[1]
        is DropReason.BAD_SIGNATURE
    )
    no_seal = {k: v for k, v in meta.items() if k != SEAL_KEY}
    assert verify("rg-abc", text, vec, no_seal, ring)[1] is DropReason.UNSEALED
    assert verify("rg-abc", text, vec, edit_seal(meta, chunk_index="zero"), ring)[1] is DropReason.MALFORMED_SEAL
    assert verify("rg-abc", text, vec, edit_seal(meta, action="allow", score=0.0), ring)[1] is DropReason.BAD_SIGNATURE


def test_seal_is_one_packed_record_and_a_trust_copy() -> None:
    _, _, meta = _sealed(_RING)
    assert set(meta) == {SEAL_KEY, TRUST_KEY} and meta[TRUST_KEY] == "trusted"
    assert str(meta[SEAL_KEY]).startswith("v2.")
    assert from_metadata(meta).source == "https://wiki.example/a"


@pytest.mark.parametrize(
    "packed",
    [
        "v2.sig",  # no record
        "v2..{}",  # no signature
        "v1.sig.{}",  # another version tag
        'v2.sig.{"v":2}',  # fields missing
        "v2.sig.[1,2]",  # not an object
        "v2.sig.{not json",
    ],
)
def test_malformed_packed_records_are_refused(packed: str) -> None:
    text, vec, meta = _sealed(_RING)
    assert verify("rg-abc", text, vec, {**meta, SEAL_KEY: packed}, _RING)[1] is DropReason.MALFORMED_SEAL


def _signed_body(meta: dict, body: str, ring: Keyring = _RING_FOR_BODIES, prefix: bytes | None = None) -> dict:
    """``meta`` with ``body`` as its record, signed by the real key: only the parser can refuse it."""
    data = (seal_module._SIGNED_PREFIX if prefix is None else prefix) + body.encode("utf-8")
    return {**meta, SEAL_KEY: f"v2.{ring.active().sign(data)}.{body}"}


def _body(meta: dict) -> dict:
    return json.loads("{" + str(meta[SEAL_KEY]).partition(".{")[2])


@pytest.mark.parametrize(
    "change",
    [
        {"v": 3},
        {"v": True},
        {"v": 2.0},  # == 2 in Python
        {"extra": "x"},
        {"score": True},  # a bool is not a number here
        {"chunk_index": 0.0},
        {"chunk_index": False},
        {"source": 7},
        {"trust": "superuser"},
    ],
)
def test_signed_records_with_wrong_versions_fields_or_types_are_malformed(change: dict) -> None:
    # Signed with the real key, so only the parser stands between the record and a pass.
    text, vec, meta = _sealed(_RING_FOR_BODIES)
    body = json.dumps({**_body(meta), **change}, separators=(",", ":"))
    signed = _signed_body(meta, body)
    assert verify("rg-abc", text, vec, signed, _RING_FOR_BODIES)[1] is DropReason.MALFORMED_SEAL


@pytest.mark.parametrize(
    "body",
    [
        '{"score":NaN}',
        '{"score":1e999}',  # parses to infinity
        '{"v":2,"v":2}',  # a repeated field
        "[" * 5000 + "]" * 5000,  # nests past the recursion limit
    ],
)
def test_hostile_record_bodies_are_malformed_and_never_raise(body: str) -> None:
    text, vec, meta = _sealed(_RING_FOR_BODIES)
    if body.startswith('{"score"'):
        record = json.dumps(_body(meta), separators=(",", ":"))
        body = record.replace('"score":0.1', body[1:-1])
        assert body != record
    elif body.startswith('{"v"'):
        body = json.dumps(_body(meta), separators=(",", ":")).replace('"v":2', '"v":2,"v":2')
    signed = _signed_body(meta, body)
    assert verify("rg-abc", text, vec, signed, _RING_FOR_BODIES)[1] is DropReason.MALFORMED_SEAL
    assert claimed_provenance(signed) is None


def test_overlong_seals_are_refused_unread() -> None:
    text, vec, meta = _sealed(_RING_FOR_BODIES)
    body = json.dumps({**_body(meta), "findings": "x" * MAX_SEAL_CHARS}, separators=(",", ":"))
    signed = _signed_body(meta, body)
    assert verify("rg-abc", text, vec, signed, _RING_FOR_BODIES)[1] is DropReason.MALFORMED_SEAL


def test_the_signed_bytes_carry_the_layout_2_prefix() -> None:
    # The same body signed without the domain prefix must not verify.
    text, vec, meta = _sealed(_RING_FOR_BODIES)
    body = str(meta[SEAL_KEY]).partition(".{")[2]
    unprefixed = _signed_body(meta, "{" + body, prefix=b"")
    assert verify("rg-abc", text, vec, unprefixed, _RING_FOR_BODIES)[1] is DropReason.BAD_SIGNATURE
    assert verify("rg-abc", text, vec, _signed_body(meta, "{" + body), _RING_FOR_BODIES)[1] is None


@pytest.mark.parametrize(
    "ring", [Keyring.generate("hmac-sha256"), Keyring.generate("ed25519")], ids=["hmac", "ed25519"]
)
def test_a_signature_spelled_another_way_is_refused(ring: Keyring) -> None:
    text, vec, meta = _sealed(ring)
    tag, sig, rest = str(meta[SEAL_KEY]).split(".", 2)
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    respelled = [
        base64.urlsafe_b64encode(raw).decode(),  # padded
        base64.b64encode(raw).decode().rstrip("="),  # standard alphabet
        sig[:5] + "*" + sig[5:],  # a junk character the lenient decoder skips
    ]
    for other in respelled:
        if other == sig:
            continue
        forged = {**meta, SEAL_KEY: f"{tag}.{other}.{rest}"}
        assert verify("rg-abc", text, vec, forged, ring)[1] is DropReason.BAD_SIGNATURE, other


def test_text_with_a_lone_surrogate_is_a_mismatch_not_an_error() -> None:
    text, vec, meta = _sealed(_RING_FOR_BODIES)
    assert verify("rg-abc", text + "\ud800", vec, meta, _RING_FOR_BODIES)[1] is DropReason.TEXT_MISMATCH


def test_layout_1_records_still_verify_and_still_break() -> None:
    text, vec, meta = _sealed_v1(_RING)
    assert verify("rg-abc", text, vec, meta, _RING)[1] is None
    assert from_metadata(meta).doc_id == "doc-1"
    assert verify("rg-abc", text, vec, {**meta, "rg_action": "quarantine"}, _RING)[1] is DropReason.BAD_SIGNATURE
    assert verify("rg-abc", text, vec, edit_seal(meta, source="x"), _RING)[1] is DropReason.BAD_SIGNATURE
    assert verify("rg-abc", text + "!", vec, meta, _RING)[1] is DropReason.TEXT_MISMATCH
    no_sig = {k: v for k, v in meta.items() if k != "rg_sig"}
    assert verify("rg-abc", text, vec, no_sig, _RING)[1] is DropReason.UNSEALED
    assert verify("rg-abc", text, vec, {**meta, "rg_chunk_index": "zero"}, _RING)[1] is DropReason.MALFORMED_SEAL


def test_a_layout_1_signature_does_not_verify_a_layout_2_record() -> None:
    text, vec, meta = _sealed(_RING)
    _, _, v1 = _sealed_v1(_RING)
    body = str(meta[SEAL_KEY]).partition(".{")[2]
    assert verify("rg-abc", text, vec, {**meta, SEAL_KEY: f"v2.{v1['rg_sig']}.{{{body}"}, _RING)[1] is (
        DropReason.BAD_SIGNATURE
    )


def test_unknown_and_revoked_keys_are_refused() -> None:
    ring = Keyring.generate()
    text, vec, meta = _sealed(ring)
    assert verify("rg-abc", text, vec, meta, Keyring.generate())[1] is DropReason.UNKNOWN_KEY
    old = ring.active_id
    ring.rotate()
    assert verify("rg-abc", text, vec, meta, ring)[1] is None  # rotation: old keys still verify
    assert old is not None
    ring.revoke(old)
    assert verify("rg-abc", text, vec, meta, ring)[1] is DropReason.REVOKED_KEY


def test_hmac_forgery_with_a_different_secret_is_rejected() -> None:
    ring = Keyring.generate()
    text, vec, meta = _sealed(ring)
    forger = HmacSigner(key_id=ring.active().key_id, secret=os.urandom(32))
    forged = forge_seal(meta, forger, action=Action.ALLOW)
    assert from_metadata(forged).key_id == ring.active().key_id
    assert verify("rg-abc", text, vec, forged, ring)[1] is DropReason.BAD_SIGNATURE


def test_ed25519_verify_only_keyring_verifies_but_cannot_sign() -> None:
    ring = Keyring.generate("ed25519")
    text, vec, meta = _sealed(ring)
    public = ring.public()
    assert verify("rg-abc", text, vec, meta, public)[1] is None
    with pytest.raises(SigningKeyError):
        seal(_prov(), public)


def test_algorithm_confusion_is_rejected() -> None:
    ring = Keyring.generate("ed25519")
    text, vec, meta = _sealed(ring)
    assert verify("rg-abc", text, vec, edit_seal(meta, algorithm="hmac-sha256"), ring)[1] is DropReason.BAD_SIGNATURE


def test_key_material_never_in_repr_or_metadata() -> None:
    ring = Keyring.generate()
    signer = ring.active()
    assert isinstance(signer, HmacSigner)
    secret_b64 = ring.to_json()["keys"][0]["secret"]
    _, _, meta = _sealed(ring)
    blob = repr(ring) + repr(signer) + json.dumps(meta) + json.dumps(ring.describe())
    assert secret_b64 not in blob and signer.secret.hex() not in blob
    from ragguard.provenance.signers import b64encode, private_bytes

    ed = Ed25519Signer.generate()
    assert ed.private_key is not None
    raw = private_bytes(ed.private_key)
    assert raw.hex() not in repr(ed) and b64encode(raw) not in repr(ed)


def test_keyring_file_roundtrip_is_0600_and_checks_permissions(tmp_path) -> None:
    ring = Keyring.generate()
    ring.rotate("ed25519")
    path = tmp_path / "keys.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert loaded.key_ids == ring.key_ids and loaded.active_id == ring.active_id
    text, vec, meta = _sealed(ring)
    assert verify("rg-abc", text, vec, meta, loaded)[1] is None
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        Keyring.load(path)


def _unparseable(doc: dict) -> str:
    return "{not json"


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_unparseable, "not a readable ragguard keyring"),
        (lambda d: d["keys"][0].__setitem__("secret", 12345678), "malformed key entry"),  # a number, not base64
        (lambda d: d.__setitem__("active", ["x"]), "'active' must be a key id"),
        (lambda d: d["keys"][0].__delitem__("alg"), "malformed key entry"),
    ],
)
def test_malformed_key_files_are_signing_key_errors_naming_the_file(tmp_path, edit, says: str) -> None:
    path = tmp_path / "keys.json"
    doc = Keyring.generate().to_json()
    text = edit(doc)
    path.write_text(text if isinstance(text, str) else json.dumps(doc))
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match=f"keys.json.*{says}|{says}.*keys.json"):
        Keyring.load(path)


def test_a_signing_key_of_the_wrong_type_in_a_config_file_is_not_echoed(tmp_path) -> None:
    from ragguard import Settings

    cfg = tmp_path / "ragguard.toml"
    cfg.write_text("signing_key = 8812345678901234567\n")
    with pytest.raises(ValueError) as err:
        Settings(config=cfg)
    assert "8812345678901234567" not in str(err.value)


def test_short_secret_is_refused() -> None:
    with pytest.raises(SigningKeyError, match="at least 16"):
        Keyring.from_secret("short")


def test_resolve_generates_default_key_once(tmp_path, caplog) -> None:
    target = tmp_path / "store" / "keyring.json"
    with pytest.raises(SigningKeyError, match="no keyring"):
        resolve_keyring(key_file=None, secret=None, default_file=target, create=False)
    ring = resolve_keyring(key_file=None, secret=None, default_file=target, create=True)
    assert str(target) in caplog.text
    again = resolve_keyring(key_file=None, secret=None, default_file=target, create=True)
    assert again.active_id == ring.active_id
    with pytest.raises(SigningKeyError, match="RAGGUARD_SIGNING_KEY"):
        resolve_keyring(key_file=None, secret=None, default_file=None, create=True)


FIELDS = sorted(f.name for f in dataclasses.fields(Provenance))


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(FIELDS),
    value=st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    layout=st.sampled_from(["v1", "v2"]),
)
def test_any_change_to_any_sealed_field_breaks_the_seal(field: str, value: object, layout: str) -> None:
    ring = _RING
    text, vec, meta = (_sealed if layout == "v2" else _sealed_v1)(ring)
    old = getattr(from_metadata(meta), field)
    old = old.value if isinstance(old, (Action, TrustTier)) else old
    if type(old) is type(value) and old == value:
        return
    reason = verify("rg-abc", text, vec, edit_seal(meta, **{field: value}), ring)[1]
    assert reason is not None


@settings(max_examples=100, deadline=None)
@given(a=st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.booleans()), max_size=5))
def test_canonical_bytes_roundtrip(a: dict) -> None:
    assert json.loads(canonical_bytes(a)) == a


_RING = Keyring.generate()


@settings(max_examples=200, deadline=None)
@given(
    a=st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.text(max_size=12),
            st.integers(),
            st.booleans(),
            st.none(),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=8,
    )
)
def test_canonical_bytes_match_the_portable_json_encoder(a: dict) -> None:
    # canonical_bytes takes CPython's C encoder directly; any other bytes would break every stored seal.
    portable = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical_bytes(a) == portable.encode(a).encode("utf-8")


@pytest.mark.parametrize(
    ("layout", "change"),
    [
        ("v2", {"rg_extra": "x"}),  # an rg_ key the seal never had
        ("v2", {"rg_action": "allow"}),  # a v1 key beside a v2 record
        ("v2", {TRUST_KEY: "untrusted"}),  # the unsigned trust copy changed
        ("v2", {"caller": "x"}),  # caller metadata added after sealing
        ("v1", {"rg_extra": "x"}),
        ("v1", {"caller": "x"}),
        ("v1", {"rg_chunk_index": False}),  # == 0 in Python, other bytes on the wire
        ("v1", {"rg_v": True}),  # == 1, passes the version check, must still fail the signature
        ("v1", {"rg_v": 1.0}),
    ],
)
def test_added_keys_and_type_changes_break_the_seal(layout: str, change: dict) -> None:
    text, vec, meta = (_sealed if layout == "v2" else _sealed_v1)(_RING)
    assert verify("rg-abc", text, vec, meta, _RING)[1] is None
    assert verify("rg-abc", text, vec, {**meta, **change}, _RING)[1] is not None


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_a_removed_field_breaks_the_seal(layout: str) -> None:
    text, vec, meta = (_sealed if layout == "v2" else _sealed_v1)(_RING)
    for key in meta:
        if key != "rg_sig":
            assert verify("rg-abc", text, vec, {k: v for k, v in meta.items() if k != key}, _RING)[1] is not None


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "ed25519"])
def test_a_key_file_whose_id_was_edited_is_refused(tmp_path: pathlib.Path, algorithm: str) -> None:

    path = tmp_path / "keys.json"
    Keyring.generate(algorithm).save(path)  # type: ignore[arg-type]
    data = json.loads(path.read_text())
    old = data["keys"][0]["id"]
    new = old[0] + "0" * (len(old) - 1)
    path.write_text(path.read_text().replace(old, new))
    with pytest.raises(SigningKeyError, match="does not match its key material"):
        Keyring.load(path)


def test_canonical_bytes_take_any_mapping() -> None:
    from types import MappingProxyType

    assert canonical_bytes(MappingProxyType({"b": 1, "a": "x"})) == b'{"a":"x","b":1}'


@pytest.mark.parametrize("text", ["[" * 5000, "not json", "[[1,2]]", None, '[["d","c","x"]]'])
def test_decode_findings_never_raises(text: object) -> None:
    assert decode_findings(text) == ()


def test_hmac_tags_are_rfc_2104_and_survive_pickling_after_use() -> None:
    # The signer keeps a keyed template to copy; its tags must be exactly HMAC-SHA256's,
    # for every message after the first, and a pickled signer must carry no template.
    import hashlib
    import hmac as std_hmac
    import pickle

    signer = HmacSigner.generate()
    messages = [b"", b"x", os.urandom(1000), b"ragguard-seal-v2\n{}"]
    for m in messages:
        expected = base64.urlsafe_b64encode(std_hmac.digest(signer.secret, m, hashlib.sha256)).rstrip(b"=").decode()
        assert signer.sign(m) == expected and signer.verify(m, expected)
    copy = pickle.loads(pickle.dumps(signer))
    assert "_template" not in copy.__dict__ and copy == signer
    assert [copy.sign(m) for m in messages] == [signer.sign(m) for m in messages]


def _stored_values(prov: Provenance) -> dict[str, object]:
    """A record's fields as a seal stores them (tiers and actions as their strings)."""
    values: dict[str, object] = {f.name: getattr(prov, f.name) for f in dataclasses.fields(Provenance)}
    values["trust"], values["action"] = prov.trust.value, prov.action.value
    return values


def test_a_parsed_record_equals_one_built_through_the_constructor() -> None:
    # The parse writes the frozen record's fields directly; it must be the same value
    # the dataclass constructor builds, and a record with an extra field is refused.
    from ragguard.provenance.legacy import typed_fields

    prov = _prov()
    values = _stored_values(prov)
    parsed = typed_fields(dict(values), {n: n for n in values})
    assert parsed == prov and hash(parsed) == hash(prov) and repr(parsed) == repr(prov)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.score = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="exactly the provenance fields"):
        typed_fields({**values, "extra": "x"}, {n: n for n in [*values, "extra"]})


def test_a_score_too_large_for_a_float_is_malformed_not_an_overflow() -> None:
    # float(10**400) raises OverflowError, which the audit did not expect from a parse.
    from ragguard.provenance.legacy import typed_fields

    values = {**_stored_values(_prov()), "score": 10**400}
    with pytest.raises(ValueError, match="not finite"):
        typed_fields(values, {n: n for n in values})


def test_a_keyring_that_cannot_sign_says_why() -> None:
    ring = Keyring.generate(algorithm="ed25519")
    with pytest.raises(SigningKeyError, match="no key that can sign \\(a verify-only public copy\\?\\)"):
        ring.public().active()
    ring.revoke(ring.active().key_id)
    with pytest.raises(SigningKeyError, match="every key in the keyring is revoked: add a new one"):
        ring.active()


def test_a_store_key_made_by_another_process_first_is_used_not_replaced(tmp_path: pathlib.Path, monkeypatch) -> None:
    from ragguard.provenance.keyring import resolve_keyring

    default = tmp_path / "store" / "keyring.json"
    theirs = Keyring.generate()
    generate = Keyring.generate

    def racing_generate(*args: object, **kw: object) -> Keyring:
        theirs.save(default)  # the other process saves its key between our check and our save
        return generate(*args, **kw)

    monkeypatch.setattr(Keyring, "generate", staticmethod(racing_generate))
    ring = resolve_keyring(key_file=None, secret=None, default_file=default, create=True)
    assert ring.active().key_id == theirs.active().key_id
    assert Keyring.load(default).active().key_id == theirs.active().key_id
    assert [p.name for p in default.parent.iterdir()] == ["keyring.json"]  # no temporary file left


def test_exclusive_key_save_works_without_hard_links(tmp_path: pathlib.Path, monkeypatch) -> None:
    def no_links(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # what some network file systems answer

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "keyring.json"
    first = Keyring.generate()
    first.save(path, exclusive=True)
    assert Keyring.load(path).active_id == first.active_id
    with pytest.raises(FileExistsError):
        Keyring.generate().save(path, exclusive=True)
    assert Keyring.load(path).active_id == first.active_id
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]
