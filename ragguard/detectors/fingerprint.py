"""The screen id: one short digest of everything the text detectors' answers depend on.

A text detector is a pure function of the text and of itself: its code, its
parameters, its rule tables, and what its code leans on (Python's regular
expressions and Unicode tables, pyahocorasick). Ingest seals the screen id with
every chunk (in ``policy_version``, see :meth:`ragguard.Guard.screen_version`),
beside what every detector found. While a chunk's seal verifies (so its text is
the text that was scanned) and names today's screen id, scanning that text
again can only find what the seal already records, which the nightly audit
uses to skip texts sealed with no text finding (see
:mod:`ragguard.audit.incremental`).

The id changes with any edit to a file of this package, any ragguard, Python or
pyahocorasick release, and any detector parameter: every chunk is then scanned
in full once more. There is no id (``None``) when a text detector cannot say
what it depends on (:meth:`~ragguard.detectors.base.TextDetector.fingerprint`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from ragguard.detectors.base import TextDetector

__all__ = ["ID_CHARS", "code_digest", "environment_digest", "screen_id"]

#: Hex characters of the screen id (64 bits: a label, not a signature; the seal signs it).
ID_CHARS = 16


def code_digest() -> str:
    """SHA-256 over the detector package's source files (names and bytes, in name order).

    Raises:
        OSError: If the sources cannot be read (a zipped or frozen install).
    """
    h = hashlib.sha256()
    paths = sorted(Path(__file__).parent.glob("*.py"))
    if not paths:
        raise OSError("the detector sources are not on disk")
    for path in paths:
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def environment_digest() -> str | None:
    """SHA-256 over the detector sources and the versions they lean on; None if they cannot be read.

    Callers keep it for their lifetime: it describes the code they run, which
    was loaded once (a package upgraded on disk meanwhile runs only after a
    restart, which reads it again).
    """
    from ragguard import __version__  # here, not at import: ragguard/__init__ imports this package

    try:
        code = code_digest()
        ahocorasick = importlib.metadata.version("pyahocorasick")
    except (OSError, importlib.metadata.PackageNotFoundError):
        return None
    env = (__version__, platform.python_implementation(), platform.python_version(), unicodedata.unidata_version)
    return hashlib.sha256(repr((env, ahocorasick, code)).encode("utf-8")).hexdigest()


def screen_id(detectors: Sequence[TextDetector], environment: str | None = None) -> str | None:
    """The id of a screen by ``detectors`` (in this order), or None when one cannot be pinned.

    Args:
        detectors: The text detectors, in the order they run.
        environment: :func:`environment_digest`, computed here when None.
    """
    parts = []
    for det in detectors:
        fp = det.fingerprint()
        if fp is None:
            return None
        parts.append(fp)
    env = environment if environment is not None else environment_digest()
    if env is None:
        return None
    return hashlib.sha256(repr((env, tuple(parts))).encode("utf-8")).hexdigest()[:ID_CHARS]
