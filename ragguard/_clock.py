"""The one clock ragguard stamps records and reports with."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    """The current UTC time, ISO-8601 to the second (what seals and reports record)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
