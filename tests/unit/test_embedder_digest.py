"""The embedder is part of the trust chain: its weights are verified before they are loaded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ragguard.embedders import DEFAULT_MODEL_SHA256, SentenceTransformerEmbedder, weights_digest
from ragguard.embedders import sentence_transformers as st_mod
from ragguard.errors import ConfigurationError, ModelIntegrityError


def _fake_model(tmp_path: Path, payload: bytes = b"not really weights") -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "model.safetensors").write_bytes(payload)
    (d / "config.json").write_text("{}")
    return d


def test_wrong_digest_stops_before_loading(tmp_path: Path) -> None:
    d = _fake_model(tmp_path)
    emb = SentenceTransformerEmbedder(d, expected_sha256="0" * 64)
    with pytest.raises(ModelIntegrityError) as exc:
        emb.embed(["x"])
    msg = str(exc.value)
    assert "0" * 64 in msg and hashlib.sha256(b"not really weights").hexdigest() in msg


def test_default_model_is_pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _fake_model(tmp_path)
    monkeypatch.setattr(st_mod, "default_model_path", lambda: d)
    emb = SentenceTransformerEmbedder()
    assert emb.expected_sha256 == DEFAULT_MODEL_SHA256
    with pytest.raises(ModelIntegrityError, match="do not match the pinned digest"):
        _ = emb.weights_digest


def test_constructor_does_no_work(tmp_path: Path) -> None:
    SentenceTransformerEmbedder(tmp_path / "does-not-exist")  # no error until first use


def test_missing_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="never downloads"):
        SentenceTransformerEmbedder("no-such-org/no-such-model").embed(["x"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError, match="no weight files"):
        SentenceTransformerEmbedder(empty).embed(["x"])


def test_sharded_weights_digest_covers_every_file(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "a.safetensors").write_bytes(b"1")
    (d / "b.safetensors").write_bytes(b"2")
    before = weights_digest(d)
    (d / "b.safetensors").write_bytes(b"3")
    assert weights_digest(d) != before
