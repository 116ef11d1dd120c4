"""A real copy of the default model with one byte of its weights flipped is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ragguard.embedders import DEFAULT_MODEL_SHA256, SentenceTransformerEmbedder, weights_digest
from ragguard.embedders import sentence_transformers as st_mod
from ragguard.errors import ModelIntegrityError

pytestmark = pytest.mark.integration


def test_shipped_default_weights_match_the_official_digest() -> None:
    assert weights_digest(st_mod.default_model_path()) == DEFAULT_MODEL_SHA256


def test_altered_default_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "model"
    shutil.copytree(st_mod.default_model_path(), copy)
    weights = copy / "model.safetensors"
    with weights.open("r+b") as fh:
        fh.seek(weights.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0x01]))
    monkeypatch.setattr(st_mod, "default_model_path", lambda: copy)
    with pytest.raises(ModelIntegrityError, match=f"expected sha256 {DEFAULT_MODEL_SHA256}"):
        SentenceTransformerEmbedder().embed(["hello"])
