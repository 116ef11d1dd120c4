"""Fixtures for the langchain-ragguard tests.

Everything lives under ``tmp_path`` and nothing depends on the working
directory, so the tests run the same from the repository root or from here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The real model loads offline; never reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Test modules import the shared helpers (lcrg_support) whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))

from lcrg_support import Tamper, chroma_guard, ingest_clean  # noqa: E402
from ragguard import Guard  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker here too, in case this folder is run under another configuration."""
    config.addinivalue_line("markers", "integration: uses the real embedding model and Chroma (slower)")
    config.addinivalue_line("markers", "server: starts a Chroma server on loopback")


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    """A Chroma-backed guard (fake embedder) holding the clean passages."""
    g = chroma_guard(tmp_path / "store")
    ingest_clean(g)
    return g


@pytest.fixture
def tamper(guard: Guard) -> Tamper:
    """Tampering helpers bound to ``guard``."""
    return Tamper(guard)
