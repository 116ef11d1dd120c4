"""Text re-scan in worker processes, so a nightly audit uses the machine's cores.

The audit's CPU time splits three ways: reading the store (Chroma, in its own
threads), checking seals, and re-running the text detectors (regular
expressions, pure Python: one core at most under the GIL). Text detectors read
each chunk's text alone and are pure, so their work moves to a process pool
while the main process reads and verifies the next page. Detectors that read
the store or the vectors (campaign, classifier) stay in the main process.

Workers are never started with a plain ``fork`` of the auditing process: the
store's client holds threads and locks a forked child would inherit half-taken.
Where the platform has it they come from a ``forkserver``: a clean process,
started once, that imports this module, the detectors' modules and the
caller's main module, then forks each worker from that state. With ``spawn``
(the fallback, and Windows' only method) every worker starts a fresh
interpreter and imports all of that again, 1.5 to 2 s of CPU each here. Workers
start only once a page has enough texts to be worth sending (``INLINE_BELOW``),
so a nightly audit that skips nearly every text starts none; until they answer,
pages are scanned in this process rather than waited on. They receive the
detectors once and are shut down when the audit ends. (The forkserver itself,
a small idle process, lives as long as the calling process: that is how the
standard library runs it.)
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import pickle
from collections.abc import Sequence

from ragguard._cpus import usable_cpus
from ragguard.detectors.base import TextDetector, detect_texts
from ragguard.types import Finding

__all__ = [
    "AUTO_MIN_CHUNKS",
    "INLINE_BELOW",
    "SCAN_WHILE_STARTING",
    "PendingScan",
    "TextScanPool",
    "auto_workers",
    "worker_context",
]

log = logging.getLogger(__name__)

#: Below this many chunks, starting worker processes costs more than it saves.
AUTO_MIN_CHUNKS = 20_000
#: A page with fewer texts to scan is scanned in the calling process: sending them costs more
#: than scanning them (about 0.3 ms a text), and when the nightly audit skips nearly every text
#: (see :mod:`ragguard.audit.incremental`) no worker process is ever started.
INLINE_BELOW = 64
#: Until the workers have started (a second or more: each loads the detectors), pages are
#: scanned in the calling process instead of queued for them while it waits idle.
SCAN_WHILE_STARTING = True

# The detectors of one worker process, set once by the pool's initializer
# (module state is per process and private to the pool's workers).
_WORKER_DETECTORS: tuple[TextDetector, ...] = ()


def _init_worker(payload: bytes) -> None:
    global _WORKER_DETECTORS
    _WORKER_DETECTORS = pickle.loads(payload)  # noqa: S301 - our own bytes, from the parent process


def _ready() -> None:
    """A no-op task: its completion says a worker has started and loaded the detectors."""


def _scan_texts(texts: Sequence[str]) -> list[list[list[Finding]]]:
    """Per detector, per text, the findings (runs in a worker)."""
    return detect_texts(_WORKER_DETECTORS, texts)


def worker_context(detectors: Sequence[TextDetector]) -> multiprocessing.context.BaseContext:
    """The start method for text workers: a forkserver that preloads what they import, else spawn.

    The preload list takes effect when the server starts (the first time anything
    in this process uses a forkserver); a server already running is reused as it is.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    modules = {__name__, *(type(d).__module__ for d in detectors)}
    # "__main__" is imported once in the server, as spawn would in every worker (a detector
    # class defined in the caller's script must unpickle there); the guarded main block never runs.
    ctx.set_forkserver_preload(["__main__", *sorted(modules)])
    return ctx


def auto_workers(total_chunks: int) -> int:
    """Workers for an audit of ``total_chunks`` when the caller did not say: one per CPU on big stores."""
    if total_chunks < AUTO_MIN_CHUNKS:
        return 1
    return max(1, min(usable_cpus(), 8))


class TextScanPool:
    """Runs text detectors over pages of texts, in worker processes or in-process.

    Args:
        detectors: Text detectors (picklable for ``workers > 1``; otherwise the
            pool falls back to scanning in-process and logs why).
        workers: Worker processes; 1 scans in the calling process.

    Use as a context manager so the workers are always shut down.
    """

    def __init__(self, detectors: Sequence[TextDetector], workers: int = 1) -> None:
        self.detectors = tuple(detectors)
        self.workers = max(1, int(workers))
        self._pool: cf.ProcessPoolExecutor | None = None
        self._starting: list[cf.Future[None]] | None = None

    def __enter__(self) -> TextScanPool:
        if self.workers > 1 and self.detectors:
            try:
                payload = pickle.dumps(self.detectors)
            except Exception as exc:  # a custom detector holding a lock, a model...
                log.warning("audit: text detectors cannot be sent to worker processes (%s); scanning in-process", exc)
            else:
                self._pool = cf.ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=worker_context(self.detectors),
                    initializer=_init_worker,
                    initargs=(payload,),
                )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._starting = None

    def started(self, timeout: float = 0.0) -> bool:
        """Whether worker processes are up and hold the detectors, waiting up to ``timeout`` seconds.

        False for a pool scanning in-process, and before the first page worth sending
        (``INLINE_BELOW`` texts or more) has started them.
        """
        if self._starting is None:
            return False
        return not cf.wait(self._starting, timeout=timeout).not_done

    def submit(self, texts: Sequence[str]) -> PendingScan:
        """Start scanning ``texts``; in-process, the work is done before this returns."""
        if self._pool is None or len(texts) < INLINE_BELOW:
            return PendingScan([], detect_texts(self.detectors, texts))
        if self._starting is None:  # the first page worth sending starts the workers
            self._starting = [self._pool.submit(_ready) for _ in range(self.workers)]
        if SCAN_WHILE_STARTING and not self.started():
            return PendingScan([], detect_texts(self.detectors, texts))
        # Split the page so every worker gets a share; results are re-joined in order.
        step = max(1, -(-len(texts) // self.workers))
        parts = [self._pool.submit(_scan_texts, list(texts[i : i + step])) for i in range(0, len(texts), step)]
        return PendingScan(parts, [[] for _ in self.detectors])


class PendingScan:
    """A page's text scan, running or done."""

    def __init__(self, parts: list[cf.Future[list[list[list[Finding]]]]], ready: list[list[list[Finding]]]) -> None:
        self._parts = parts
        self._ready = ready

    def done(self) -> bool:
        """Whether :meth:`result` would return without waiting."""
        return all(p.done() for p in self._parts)

    def result(self) -> list[list[list[Finding]]]:
        """Per detector, per text (in submission order), the findings; re-raises a worker's failure."""
        for part in self._parts:
            for d, found in enumerate(part.result()):
                self._ready[d].extend(found)
        self._parts = []
        return self._ready
