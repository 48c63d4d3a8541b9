"""The gateway as one ASGI callable.

Requests for the gateway's own endpoints (health, docs, OpenAPI, ForwardAuth, metrics) go
to a small FastAPI app; everything else is matched against the routing table and handed to
the proxy, without any framework in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
from starlette.types import Receive, Scope, Send

from tdc_shared.app import default_verifier, freeze_startup_objects
from tdc_shared.auth import TokenVerifier
from tdc_shared.envelope import envelope_bytes
from tdc_shared.events.revocations import RevocationListener
from tdc_shared.logs import accept_request_id, configure_logging
from tdc_shared.observability import MetricsEndpoint, new_registry
from tdc_shared.settings import ServiceSettings

from .cors import Cors
from .dashboard import Dashboard
from .errors import send_error
from .fast import FastUpstreams
from .local import build_local_app
from .metrics import ProxyMetrics
from .openapi import OpenApiMerger
from .policy import PolicyEnforcer
from .proxy import Proxy
from .settings import GatewaySettings
from .table import RoutingTable, load_table
from .upstream import UpstreamError

log = logging.getLogger("tdc.gateway")

# Metrics are not among them: they are served on the internal TDC_METRICS_PORT only.
LOCAL_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs"})
LOCAL_PREFIXES = ("/docs/", "/_auth/", "/_error/")
_NOT_FOUND = envelope_bytes("Not found")
_BAD_PATH = envelope_bytes("Invalid path")
_INTERNAL = envelope_bytes("Internal server error")


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        verifier: Callable[[ServiceSettings], TokenVerifier] | None = None,
    ) -> None:
        self.settings = settings
        self.table: RoutingTable = load_table(
            settings.gateway_routes_dir,
            settings.gateway_upstreams,
            connect_timeout=settings.gateway_connect_timeout_seconds,
            response_timeout=settings.gateway_response_timeout_seconds,
            max_body=settings.gateway_max_body_bytes,
        )
        self.cors = Cors(settings.gateway_cors_origins, settings.gateway_cors_max_age)
        self.registry = new_registry()
        self.metrics = ProxyMetrics(self.registry)
        self._make_verifier = verifier or default_verifier
        self.verifier: TokenVerifier | None = None
        self.enforcer: PolicyEnforcer | None = None
        self.session: aiohttp.ClientSession | None = None
        self.proxy: Proxy | None = None
        self.fast: FastUpstreams | None = None
        self.openapi: OpenApiMerger | None = None
        self.dashboard: Dashboard | None = None
        self.revocations: RevocationListener | None = None
        self.metrics_endpoint = MetricsEndpoint(self.registry, settings.metrics_host, settings.metrics_port)
        self.local = build_local_app(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path in LOCAL_PATHS or path.startswith(LOCAL_PREFIXES):
                await self.local(scope, receive, send)
                return
            preflight = Cors.preflight_request(scope) if scope["method"] == "OPTIONS" else None
            if preflight is not None:
                await self.cors.answer_preflight(*preflight, accept_request_id(None).encode(), send)
                return
            if "/." in path and _has_dot_segment(path):
                # "/api/v1/events/../admin/users" would pass the public policy and reach an admin
                # route on any upstream that normalizes paths: refuse instead of guessing.
                await send_error(send, 400, _BAD_PATH, accept_request_id(_request_id(scope)).encode())
                return
            route = self.table.match(path)
            if route is None:
                await send_error(send, 404, _NOT_FOUND, accept_request_id(_request_id(scope)).encode())
            elif route.local:
                # The gateway's own routed endpoints (the admin dashboard) check their policy
                # themselves; browsers calling them cross-origin need the CORS headers.
                await self.local(scope, receive, self.cors.wrap_send(scope, send))
            else:
                assert self.proxy is not None, "the gateway serves requests only after its start-up"
                try:
                    await self.proxy(route, scope, receive, send)
                except UpstreamError:
                    raise  # an upstream broke off after its headers went out: only closing is left
                except Exception:
                    # A bug of ours: the caller still gets the envelope (uvicorn's would be plain text).
                    rid = accept_request_id(_request_id(scope))
                    log.exception("proxying failed", extra={"request_id": rid, "router": route.router})
                    with contextlib.suppress(RuntimeError):  # raised by uvicorn if the answer had begun
                        await send_error(send, 500, _INTERNAL, rid.encode())
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    async def startup(self) -> None:
        settings = self.settings
        # Services trust X-Forwarded-For only from their configured proxies (TDC_TRUSTED_PROXIES): on one
        # host the gateway connects from an address of its own (e.g. 127.0.0.2) so a direct caller on
        # loopback is not mistaken for it.
        local_addr = (settings.gateway_source_address, 0) if settings.gateway_source_address else None
        connector = aiohttp.TCPConnector(
            local_addr=local_addr,
            limit=settings.gateway_upstream_connections,
            limit_per_host=settings.gateway_upstream_connections_per_host,
            keepalive_timeout=settings.gateway_keepalive_seconds,
            ttl_dns_cache=30,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        self.metrics_endpoint.start()
        self.verifier = self._make_verifier(settings)
        if settings.gateway_token_revocations:
            # Revoked tokens are refused here too (and dropped from the token cache) as auth announces them.
            self.revocations = RevocationListener(settings, self.verifier, service="gateway", registry=self.registry)
            await self.revocations.start()
        self.enforcer = PolicyEnforcer(
            self.verifier,
            settings.gateway_sl_signature_header,
            tuple(settings.gateway_webhook_signature_headers),
        )
        self.fast = FastUpstreams(
            settings.gateway_keepalive_seconds,
            settings.gateway_upstream_connections_per_host or settings.gateway_upstream_connections,
            local_addr,
        )
        proxy = Proxy(
            self.fast,
            self.enforcer,
            self.cors,
            self.metrics,
            settings.gateway_trusted_proxies,
        )
        for route in self.table.routes:
            if not route.local:
                proxy.prepare(route)
        self.proxy = proxy
        self.openapi = OpenApiMerger(
            self.table, self.session, self.local.openapi(), settings.gateway_openapi_cache_seconds
        )
        self.dashboard = Dashboard(self.table, self.session, settings.gateway_dashboard_deadline_seconds)
        log.info(
            "gateway started",
            extra={"routes": len(self.table.routes), "upstreams": self.table.upstreams()},
        )
        freeze_startup_objects()  # the local app, models and table: out of the collector's full passes

    async def shutdown(self) -> None:
        self.metrics_endpoint.stop()
        if self.revocations is not None:
            await self.revocations.stop()
        if self.fast is not None:
            self.fast.close()
        if self.session is not None:
            await self.session.close()
            # Let aiohttp's connections finish closing before the loop goes away.
            await asyncio.sleep(0)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await self.startup()
        except Exception as exc:
            log.exception("gateway failed to start")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await self.shutdown()
        await send({"type": "lifespan.shutdown.complete"})


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def _request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return str(value.decode("latin-1"))
    return None


def create_gateway(settings: GatewaySettings, **kwargs: object) -> Gateway:
    configure_logging("gateway", settings.log_level)
    return Gateway(settings, **kwargs)  # type: ignore[arg-type]
