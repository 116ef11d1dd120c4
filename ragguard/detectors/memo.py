"""One text's normalisation and decoding, shared by the detectors that read it.

``instructions`` and ``obfuscation`` both normalise and decode every text they
see. Inside :func:`shared_text_work` (which :func:`~ragguard.detectors.base.detect_texts`
opens while it runs every text detector on one text after another), the
functions marked :func:`memoized` compute each result once per text. The memo
lives in a context variable: scoped to that call and to its thread, never
global, and emptied between texts so memory stays flat.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

__all__ = ["memoized", "shared_text_work"]

T = TypeVar("T")
_MEMO: ContextVar[dict[tuple[str, str], object] | None] = ContextVar("ragguard_text_memo", default=None)


def memoized(fn: Callable[[str], T]) -> Callable[[str], T]:
    """Share ``fn(text)`` between detectors inside :func:`shared_text_work`.

    ``fn`` must be pure and its result treated as read-only by every caller.
    """
    name = fn.__qualname__

    @functools.wraps(fn)
    def wrapper(text: str) -> T:
        memo = _MEMO.get()
        if memo is None:
            return fn(text)
        key = (name, text)
        if key not in memo:
            memo[key] = fn(text)
        return memo[key]  # type: ignore[return-value]

    return wrapper


@contextmanager
def shared_text_work() -> Iterator[dict[tuple[str, str], object]]:
    """Open a memo for :func:`memoized` functions; the caller clears it between texts."""
    memo: dict[tuple[str, str], object] = {}
    token = _MEMO.set(memo)
    try:
        yield memo
    finally:
        _MEMO.reset(token)
