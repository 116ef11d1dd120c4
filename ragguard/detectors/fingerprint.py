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
pyahocorasick release, and any detector's name or parameter: chunks sealed
before are then scanned in full at every audit, until ``ragguard audit
--restamp`` seals the ones it finds clean under the new id. There is no id
(``None``) when a text detector cannot say what it depends on
(:meth:`~ragguard.detectors.base.TextDetector.fingerprint`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import platform
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from ragguard.detectors.base import TextDetector

__all__ = ["ID_CHARS", "code_digest", "environment_digest", "screen_id"]

log = logging.getLogger(__name__)

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


@functools.cache
def environment_digest() -> str | None:
    """SHA-256 over the detector sources and the versions they lean on; None if they cannot be read.

    Computed once a process, as the first detector is created (see
    :func:`ragguard.detectors.registry.create`) or the first screen id is asked
    for, so it describes the detector code this process loaded: a package
    changed on disk while a server runs is read again only by the next process,
    which is also the first to run it.
    """
    from ragguard import __version__  # here, not at import: ragguard/__init__ imports this package

    try:
        code = code_digest()
        ahocorasick = importlib.metadata.version("pyahocorasick")
    except (OSError, importlib.metadata.PackageNotFoundError) as exc:
        log.info("no screen id: the detector code cannot be read (%s); the audit scans every text", exc)
        return None
    env = (__version__, platform.python_implementation(), platform.python_version(), unicodedata.unidata_version)
    return hashlib.sha256(repr((env, ahocorasick, code)).encode("utf-8")).hexdigest()


def screen_id(detectors: Sequence[TextDetector]) -> str | None:
    """The id of a screen by ``detectors`` (in this order), or None when one cannot be pinned."""
    parts = []
    for det in detectors:
        fingerprint = getattr(det, "fingerprint", None)  # a class registered as a TextDetector may lack it
        try:
            fp = fingerprint() if callable(fingerprint) else None
        except TypeError:  # a custom detector's own method of that name, taking arguments
            fp = None
        if not isinstance(fp, str):
            return None
        parts.append(fp)
    env = environment_digest()
    if env is None:
        return None
    return hashlib.sha256(repr((env, tuple(parts))).encode("utf-8")).hexdigest()[:ID_CHARS]
