"""Request ids, access logs and Prometheus metrics for every HTTP request, in one ASGI layer.

A plain ASGI middleware (not `BaseHTTPMiddleware`) so it adds microseconds, not a task per
request. Metrics are labelled by route template (`/api/v1/events/{slug}`), never by raw
path, and methods outside HTTP's own as `_OTHER`, so a crawler cannot blow up the label set.

One naming scheme for every process: `tdc_` prefix; the process, GC and platform collectors
in each registry; no `*_created` series (a timestamp per label set that nobody graphs).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .envelope import envelope_bytes
from .logs import REQUEST_ID_HEADER, accept_request_id, request_id_var

log = logging.getLogger("tdc.access")

_INTERNAL_ERROR = envelope_bytes("Internal server error")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})

disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated


def method_label(method: str) -> str:
    """The method as a label: HTTP's own methods by name, anything else as `_OTHER`."""
    return method if method in HTTP_METHODS else "_OTHER"


def new_registry() -> CollectorRegistry:
    """A process's metrics registry, with the process, GC and platform collectors in it."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
        registry.register(collector)
    return registry


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tdc_http_requests", "HTTP requests handled", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "tdc_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics, quiet_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = accept_request_id(incoming)
        token = request_id_var.set(request_id)
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        status: dict[str, Any] = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answer here rather than in Starlette's outermost error middleware, so that the
            # 500 carries the request id and is counted like any other answer.
            log.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if "started" not in status:
                status["code"] = 500
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = method_label(scope["method"])
            self.metrics.requests.labels(method, route, str(status["code"])).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            if scope["path"] not in self.quiet_paths and log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status["code"],
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)
