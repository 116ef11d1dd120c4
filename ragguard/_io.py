"""Small file helpers shared by modules that must never leave a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, data: str, *, mode: int | None = None, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsynced, renamed.

    A crash mid-write leaves the old file intact, never a truncated one. With
    ``mode``, the temp file gets it before any byte is written (so a key file
    never exists with a wider mode). With ``exclusive``, an existing ``path`` is
    never replaced, even by a writer racing this one.

    Raises:
        FileExistsError: With ``exclusive``, if ``path`` exists.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            # A hard link is created only if the name is free: the whole file appears at once or not at all.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: check, then rename (a narrow race left)
                if path.exists():
                    raise FileExistsError(path) from None
                os.replace(tmp, path)
            else:
                Path(tmp).unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
