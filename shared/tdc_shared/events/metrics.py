"""Prometheus metrics of the event bus, registered in the app's own registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class BusMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        kw: dict[str, Any] = {"registry": registry}
        self.outbox_backlog = Gauge("tdc_outbox_backlog", "Outbox rows committed and not yet confirmed", **kw)
        self.published = Counter("tdc_events_published", "Events confirmed by the broker", ["type"], **kw)
        self.publish_failures = Counter(
            "tdc_event_publish_failures", "Outbox rows the broker refused or did not confirm", ["reason"], **kw
        )
        self.publish_latency = Histogram(
            "tdc_event_publish_seconds",
            "From sending an event to the broker's confirm",
            buckets=_LATENCY_BUCKETS,
            **kw,
        )
        self.handled = Counter(
            "tdc_events_handled",
            "Deliveries by outcome: handled, duplicate, ignored, retried, dead_lettered, broadcast, failed",
            ["type", "outcome"],
            **kw,
        )
        self.consumer_lag = Histogram(
            "tdc_event_consumer_lag_seconds",
            "From the event's occurred_at (in the producer's transaction) to this consumer's commit",
            buckets=_LATENCY_BUCKETS,
            **kw,
        )
        self.batch_size = Histogram(
            "tdc_event_batch_size",
            "Deliveries applied together in one consumer transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            **kw,
        )
        self.dead_lettered = Counter("tdc_events_dead_lettered", "Messages this consumer sent to its DLQ", **kw)
        self.dead_letters = Gauge("tdc_dead_letters", "Messages waiting in this service's dead-letter queue", **kw)
        self.broker_up = Gauge("tdc_broker_connected", "1 while the bus holds an open broker connection", **kw)
