"""How many CPUs this process may use: one rule for every part that sizes a pool."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on.

    A container's or ``taskset``'s limit where the OS tells it (``sched_getaffinity``,
    or ``os.process_cpu_count`` on Python 3.13+), else the machine's count, so a
    pool sized from it never oversubscribes a restricted process.
    """
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1
