"""Prometheus metrics, one registry per app (no global state).

Labels are bounded: routes are templates (``/v1/quarantine/{chunk_id}``, not
ids), detectors and codes come from the registered detectors, drop reasons and
actions are enums. No label ever carries chunk text, ids, sources or tokens.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from ragguard import Action, DropReason, IngestReport, RecordVerdict, SearchResult, Verdict
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "unmatched"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The sidecar's metrics.

    Args:
        registry: Where to register; a fresh one when None.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.chunks_screened = Counter(
            "ragguard_chunks_screened",
            "Chunks screened, by endpoint and policy action.",
            ["endpoint", "action"],
            registry=r,
        )
        self.ingest_chunks = Counter(
            "ragguard_ingest_chunks",
            "Chunks by ingest outcome (allowed, quarantined, rejected, unchanged).",
            ["outcome"],
            registry=r,
        )
        self.detector_hits = Counter(
            "ragguard_detector_hits", "Findings raised, by detector and rule code.", ["detector", "code"], registry=r
        )
        self.retrieval_drops = Counter(
            "ragguard_retrieval_drops",
            "Stored chunks the retrieval filter refused, by reason.",
            ["reason"],
            registry=r,
        )
        self.requests = Counter(
            "ragguard_http_requests",
            "HTTP requests, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "ragguard_http_request_duration_seconds",
            "HTTP request latency, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        # Create the bounded series up front so dashboards see zeros, not gaps.
        for endpoint in ("ingest", "scan"):
            for action in Action:
                self.chunks_screened.labels(endpoint, action.value)
        for outcome in ("allowed", "quarantined", "rejected", "unchanged"):
            self.ingest_chunks.labels(outcome)
        for reason in DropReason:
            self.retrieval_drops.labels(reason.value)

    def observe_screening(self, endpoint: str, records: Iterable[RecordVerdict]) -> None:
        """Count each distinct chunk once (records may share chunks), and its findings."""
        unique: dict[str, Verdict] = {}
        for record in records:
            for verdict in record.chunks:
                unique.setdefault(verdict.chunk_id, verdict)
        for verdict in unique.values():
            self.chunks_screened.labels(endpoint, verdict.action.value).inc()
            for finding in verdict.findings:
                self.detector_hits.labels(finding.detector, finding.code).inc()

    def observe_ingest(self, report: IngestReport) -> None:
        """Count what an ingest stored."""
        self.observe_screening("ingest", report.records)
        for outcome, n in report.counts().items():
            if n:
                self.ingest_chunks.labels(outcome).inc(n)

    def observe_search(self, result: SearchResult) -> None:
        """Count retrieval drops by reason."""
        for drop in result.dropped:
            self.retrieval_drops.labels(drop.reason.value).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMetricsMiddleware:
    """Times every HTTP request and counts it by route template, method and status.

    Args:
        app: The wrapped ASGI app.
        metrics: Where to record.
        routes: The app's routes, to name requests answered before routing
            (a 401 or 413 from a middleware) by their route template.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record latency and status after the response, whatever happened."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = self._route(scope)
            method = str(scope.get("method", ""))
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - start)
            self.metrics.requests.labels(route, method, str(status)).inc()

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        for candidate in self.routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                found = getattr(candidate, "path", None)
                if isinstance(found, str):
                    return found
        return UNMATCHED_ROUTE
