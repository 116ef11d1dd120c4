"""One CPU rule for every pool: a restricted process is not oversubscribed."""

from __future__ import annotations

import os

import pytest

from ragguard import _cpus
from ragguard.audit import parallel
from ragguard.audit.parallel import AUTO_MIN_CHUNKS, auto_workers


def test_usable_cpus_follows_the_process_limit_not_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    if hasattr(os, "process_cpu_count"):
        monkeypatch.setattr(os, "process_cpu_count", lambda: 3)
    else:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert _cpus.usable_cpus() == 3
    assert auto_workers(AUTO_MIN_CHUNKS) == 3


def test_usable_cpus_falls_back_to_the_machine_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert _cpus.usable_cpus() == 5


def test_auto_workers_caps_big_machines_and_keeps_small_audits_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 32)
    assert auto_workers(AUTO_MIN_CHUNKS) == 8
    assert auto_workers(AUTO_MIN_CHUNKS - 1) == 1
