"""Loading the dev evaluation data and embedding it once (cached on disk)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev"
CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    label: int
    family: str
    dataset: str
    group: str


def load(path: Path) -> list[Row]:
    """Rows of one dev-set JSONL file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(
                Row(r["id"], r["text"], int(r["label"]), r["family"], r.get("dataset", ""), r.get("group") or r["id"])
            )
    return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def embed_cached(texts: list[str], embedder: object, tag: str) -> npt.NDArray[np.float32]:
    """Embed ``texts`` with ``embedder``, caching by content and model digest."""
    digest = getattr(embedder, "weights_digest", "none")
    key = hashlib.sha256(("\x00".join(texts) + digest).encode()).hexdigest()[:24]
    f = CACHE / f"{tag}-{key}.npy"
    if f.exists():
        return np.load(f)
    t = time.perf_counter()
    vecs = embedder.embed(texts)  # type: ignore[attr-defined]
    print(f"  embedded {len(texts)} {tag} texts in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    CACHE.mkdir(exist_ok=True)
    np.save(f, vecs)
    return vecs
