"""What the retrieval filter dropped, reported through LangChain callbacks.

The retrievers keep no per-call state on themselves (one retriever object is
shared by concurrent chains, so a ``last_drops`` attribute would race). Each
call instead dispatches one custom callback event, :data:`FILTER_EVENT`, whose
data is :meth:`FilterReport.to_dict`. It reaches every callback handler of the
run (``config={"callbacks": [...]}``) and shows up in ``astream_events`` as an
``on_custom_event``. :class:`DropCollector` is a ready-made handler.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    BaseCallbackHandler,
    CallbackManagerForRetrieverRun,
)
from ragguard.types import Drop, DropReason

log = logging.getLogger(__name__)

#: Name of the custom callback event every guarded retrieval dispatches.
FILTER_EVENT = "ragguard_filter"


@dataclass(frozen=True)
class FilterReport:
    """One guarded retrieval: what was asked for, fetched, kept and dropped.

    Attributes:
        k: Documents asked for.
        fetched: Documents the wrapped retriever returned in the widest round.
        rounds: How many times the wrapped retriever was called (over-fetching widens the window).
        kept: Ids of the documents returned, in order.
        dropped: Documents refused, each with its reason (id ``""`` for a document without an id).
        exhausted: True when the wrapped retriever had no more documents to give.
    """

    k: int
    fetched: int
    rounds: int
    kept: tuple[str, ...]
    dropped: tuple[Drop, ...]
    exhausted: bool

    def drop_counts(self) -> dict[str, int]:
        """Number of drops by reason, e.g. ``{"text_mismatch": 1}``."""
        counts: dict[str, int] = {}
        for d in self.dropped:
            counts[d.reason.value] = counts.get(d.reason.value, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the custom event's data)."""
        return {
            "k": self.k,
            "fetched": self.fetched,
            "rounds": self.rounds,
            "kept": list(self.kept),
            "dropped": [{"id": d.id, "reason": d.reason.value} for d in self.dropped],
            "drop_counts": self.drop_counts(),
            "exhausted": self.exhausted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FilterReport:
        """Inverse of :meth:`to_dict`.

        Raises:
            KeyError: If a field is missing.
            ValueError: If a drop reason is unknown.
        """
        return cls(
            k=int(data["k"]),
            fetched=int(data["fetched"]),
            rounds=int(data["rounds"]),
            kept=tuple(str(i) for i in data["kept"]),
            dropped=tuple(Drop(str(d["id"]), DropReason(d["reason"])) for d in data["dropped"]),
            exhausted=bool(data["exhausted"]),
        )

    def summary(self) -> str:
        """One line for logs and ``on_text`` handlers."""
        counts = ", ".join(f"{r}={n}" for r, n in sorted(self.drop_counts().items()))
        return f"ragguard kept {len(self.kept)} of {self.fetched} retrieved documents" + (
            f"; dropped {len(self.dropped)} ({counts})" if self.dropped else ""
        )


class DropCollector(BaseCallbackHandler):
    """Collects the :class:`FilterReport` of every guarded retrieval it sees.

    Pass a fresh one per call (or per request) so reports never mix::

        collector = DropCollector()
        docs = retriever.invoke("query", config={"callbacks": [collector]})
        collector.reports[-1].drop_counts()
    """

    def __init__(self) -> None:
        self.reports: list[FilterReport] = []

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Keep ragguard filter events; ignore everything else."""
        if name == FILTER_EVENT:
            self.reports.append(FilterReport.from_dict(data))

    @property
    def dropped(self) -> list[Drop]:
        """Every drop over all collected reports."""
        return [d for r in self.reports for d in r.dropped]


def emit(run_manager: CallbackManagerForRetrieverRun, report: FilterReport) -> None:
    """Log the report and dispatch it to the run's callback handlers."""
    _log(report)
    if report.dropped:
        run_manager.on_text(report.summary() + "\n")
    # The same call dispatch_custom_event makes, attached to this retriever's run.
    run_manager.get_child().on_custom_event(FILTER_EVENT, report.to_dict(), run_id=run_manager.run_id)


async def aemit(run_manager: AsyncCallbackManagerForRetrieverRun, report: FilterReport) -> None:
    """Async :func:`emit`."""
    _log(report)
    if report.dropped:
        await run_manager.on_text(report.summary() + "\n")
    await run_manager.get_child().on_custom_event(FILTER_EVENT, report.to_dict(), run_id=run_manager.run_id)


def _log(report: FilterReport) -> None:
    # A drop means someone wrote around the guard or a seal broke: worth a warning.
    for d in report.dropped:
        log.warning("ragguard retriever dropped document %r: %s", d.id, d.reason.value)
