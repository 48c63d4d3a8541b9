"""Request ids, access logs and Prometheus metrics for every HTTP request, in one ASGI layer.

Metrics are served on an internal port of their own (`MetricsEndpoint`, `TDC_METRICS_PORT`),
never on the public one: router names and status counts are for the operator's scraper only.

A plain ASGI middleware (not `BaseHTTPMiddleware`) so it adds microseconds, not a task per
request. Metrics are labelled by route template (`/api/v1/events/{slug}`), never by raw
path, and methods outside HTTP's own as `_OTHER`, so a crawler cannot blow up the label set.

One naming scheme for every process: `tdc_` prefix; the process, GC and platform collectors
in each registry; no `*_created` series (a timestamp per label set that nobody graphs).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterable
from typing import Any

from fastapi.telemetry import TelemetryConfig
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .envelope import envelope_bytes
from .logs import REQUEST_ID_HEADER, accept_request_id, request_id_var

log = logging.getLogger("tdc.access")

_INTERNAL_ERROR = envelope_bytes("Internal server error")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# FastAPI's own OpenTelemetry layer, off: our metrics are Prometheus (HttpMetrics) and our
# request ids are in the logs. Left on, it asks the global providers on every request whether
# anyone listens, which nobody does here; an operator who adds OpenTelemetry turns it back on.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
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


# Where EnvelopeHttpProtocol leaves the TCP peer, before any proxy-header rewriting by uvicorn.
PEER_SCOPE_KEY = "tdc.peer"


class TrustedProxies:
    """Which peers may tell us, in X-Forwarded-For, who the client is."""

    def __init__(self, proxies: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The right-most X-Forwarded-For hop not added by a trusted proxy, if the peer is one.

        A hop that is not an IP address ends the walk: what lies left of it was written by
        someone we cannot vouch for, so the last proxy's own peer stands.
        """
        if not self.networks or not forwarded_for or not self.trusts(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            try:
                client = str(ipaddress.ip_address(hop))
            except ValueError:
                return client
            if not self.trusts(client):
                return client
        return client


class ForwardedClientMiddleware:
    """`scope["client"]` becomes the real client: from X-Forwarded-For only when the TCP peer is a
    trusted proxy (the gateway), else the peer itself. Always a valid IP text (45 characters at most).
    """

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = scope.get(PEER_SCOPE_KEY) or scope.get("client")
            if peer:
                forwarded = None
                for name, value in scope["headers"]:
                    if name == b"x-forwarded-for":
                        forwarded = (
                            value.decode("latin-1") if forwarded is None else f"{forwarded},{value.decode('latin-1')}"
                        )
                scope["client"] = (self.proxies.client(str(peer[0]), forwarded), peer[1])
        await self.app(scope, receive, send)


class MetricsEndpoint:
    """`GET /metrics` of one registry on an internal host:port (prometheus_client's small server,
    in a thread of its own). Port 0 in the settings: no endpoint."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self._server: Any = None

    def start(self) -> None:
        if not self.port:
            return
        self._server, _ = start_http_server(self.port, addr=self.host, registry=self.registry)
        log.info("metrics served", extra={"host": self.host, "port": self.port})

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
