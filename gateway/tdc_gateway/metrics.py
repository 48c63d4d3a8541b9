"""Prometheus figures for proxied requests, labelled by router (never by raw path)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from tdc_shared.observability import LATENCY_BUCKETS


class ProxyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tdc_gateway_requests", "Requests proxied, by router and status", ["router", "status"], registry=registry
        )
        self.latency = Histogram(
            "tdc_gateway_request_duration_seconds",
            "Time from request to the end of the proxied answer",
            ["router"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        # Label lookups cost more than the increment; keep the children.
        self._counters: dict[tuple[str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, router: str, status: int, seconds: float) -> None:
        counter = self._counters.get((router, status))
        if counter is None:
            counter = self._counters[(router, status)] = self.requests.labels(router, str(status))
        counter.inc()
        histogram = self._histograms.get(router)
        if histogram is None:
            histogram = self._histograms[router] = self.latency.labels(router)
        histogram.observe(seconds)
