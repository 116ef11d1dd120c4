"""Shared fixtures. Unit tests use fakes; integration tests load the real model once."""

from __future__ import annotations

import os

# The real model is loaded offline in integration tests; never reach for a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
