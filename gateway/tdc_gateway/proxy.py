"""The hot path: forward one HTTP request to its route's upstream and stream the answer back.

A plain ASGI function. Everything per route is computed when the table loads; per request we
make one pass over the headers, check the policy (verified tokens are cached until they
expire), apply the body-size limit, and hand the request to the one forwarding path
(fast.py, over the gateway's own client in upstream.py). No logging on success.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import Receive, Scope, Send

from tdc_shared.envelope import envelope_bytes
from tdc_shared.logs import accept_request_id
from tdc_shared.observability import TrustedProxies

from .cors import Cors
from .errors import TOO_LARGE, send_error
from .fast import SMALL_BODY, BodyTooLarge, ClientGone, FastUpstreams, forward, read_body, request_head, stream_body
from .metrics import ProxyMetrics
from .policy import PolicyEnforcer, Rejected, identity_headers
from .table import Route

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Never forwarded upstream: hop-by-hop headers, ones we set ourselves, and identity headers a
# client could forge (anything x-user-*, plus the usual proxy-auth user headers).
_DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"expect",
        b"content-length",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-real-ip",
        b"forwarded",
        b"x-forwarded-user",
        b"x-remote-user",
        b"remote-user",
        b"x-auth-request-user",
        b"x-auth-request-email",
    }
)


class Proxy:
    def __init__(
        self,
        upstreams: FastUpstreams,
        enforcer: PolicyEnforcer,
        cors: Cors,
        metrics: ProxyMetrics,
        trusted_proxies: list[str],
    ) -> None:
        self.upstreams = upstreams
        self.enforcer = enforcer
        self.cors = cors
        self.metrics = metrics
        # Exact addresses answer with one set lookup; networks (a pod range) need a parse per request.
        self.proxies = TrustedProxies(trusted_proxies)
        self._exact = frozenset(str(n.network_address) for n in self.proxies.networks if n.num_addresses == 1)
        self._networks = any(n.num_addresses > 1 for n in self.proxies.networks)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._limits: dict[str, Any] = {}

    def prepare(self, route: Route) -> None:
        """Per-route objects built once, not per request."""
        self.upstreams.add(route.servers)
        if route.rate_limit is not None:
            self._limits[route.router] = RateLimitItemPerSecond(
                route.rate_limit.amount, route.rate_limit.window_seconds
            )

    async def __call__(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = await self._forward(route, scope, receive, send)
        self.metrics.observe(route.router, status, time.perf_counter() - started)

    async def _forward(self, route: Route, scope: Scope, receive: Receive, send: Send) -> int:
        forwarded: list[tuple[str, str]] = []
        authorization = origin = request_id = host = client_xff = client_proto = client_host = None
        content_length: int | None = None
        chunked = False
        hop_tokens: list[str] = []
        for raw_name, raw_value in scope["headers"]:
            if raw_name in _DROP_REQUEST or raw_name.startswith(b"x-user-"):
                if raw_name == b"content-length":
                    try:
                        content_length = int(raw_value)
                    except ValueError:
                        content_length = -1
                elif raw_name == b"transfer-encoding":
                    chunked = True
                elif raw_name == b"connection":
                    hop_tokens = [t.strip().lower() for t in raw_value.decode("latin-1").split(",")]
                elif raw_name == b"host":
                    host = raw_value.decode("latin-1")
                elif raw_name == b"x-request-id":
                    request_id = raw_value.decode("latin-1")
                elif raw_name == b"x-forwarded-for":
                    client_xff = raw_value.decode("latin-1")
                elif raw_name == b"x-forwarded-proto":
                    client_proto = raw_value.decode("latin-1")
                elif raw_name == b"x-forwarded-host":
                    client_host = raw_value.decode("latin-1")
                continue
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            if raw_name == b"authorization":
                authorization = value
            elif raw_name == b"origin":
                origin = value
            forwarded.append((name, value))

        if hop_tokens and any(t not in ("keep-alive", "close") for t in hop_tokens):
            # Headers the client named in Connection are for this hop only (RFC 9110 7.6.1).
            forwarded = [(n, v) for n, v in forwarded if n.lower() not in hop_tokens]
        # os.urandom is several times cheaper than uuid4 and just as unique for a request id.
        rid = accept_request_id(request_id) if request_id is not None else os.urandom(16).hex()
        rid_bytes = rid.encode()
        cors_headers = self.cors.response_headers(origin) if origin is not None else ()

        peer = scope["client"][0] if scope.get("client") else ""
        trusted = peer in self._exact or (self._networks and self.proxies.trusts(peer))
        client_ip = peer
        if trusted and client_xff:
            # The right-most hop no trusted proxy added (the rule every service applies too).
            client_ip = self.proxies.client(peer, client_xff)
            forwarded.append(("X-Forwarded-For", f"{client_xff}, {peer}"))
        else:
            forwarded.append(("X-Forwarded-For", peer))
        forwarded.append(("X-Forwarded-Proto", (trusted and client_proto) or scope.get("scheme", "http")))
        if (trusted and client_host) or host:
            forwarded.append(("X-Forwarded-Host", (trusted and client_host) or host or ""))
        forwarded.append(("X-Request-Id", rid))

        try:
            if route.rate_limit is not None:
                await self._rate_limit(route, client_ip)
            # Only the signature policies look at header names; don't build the set for the rest.
            present = {name for name, _ in forwarded} if route.policy.endswith("signature") else set()
            claims = await self.enforcer.check(route.policy, authorization, present)
        except Rejected as exc:
            await send_error(send, exc.status, exc.body, rid_bytes, [*exc.headers, *cors_headers])
            return exc.status
        if claims is not None:
            forwarded += identity_headers(claims)

        query = scope.get("query_string")
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if query:
            target += "?" + query.decode("latin-1")
        balancer = self.upstreams.get(route.servers)
        assert balancer is not None, f"route {route.router} was not prepared"
        method = scope["method"]
        try:
            # The one place the body-size limit applies: on Content-Length before reading, and
            # while a body arrives (stream_body); both end as the same 413.
            if content_length is not None and content_length < 0:
                await send_error(send, 400, envelope_bytes("Invalid Content-Length"), rid_bytes, cors_headers)
                return 400
            if content_length is not None and content_length > route.max_body:
                raise BodyTooLarge
            data: bytes | None = None
            stream: AsyncIterator[bytes] | None = None
            if chunked or (content_length or 0) > 0:
                if not chunked and content_length is not None and content_length <= SMALL_BODY:
                    data = await read_body(receive, route.max_body)
                else:
                    if content_length is not None and not chunked:
                        forwarded.append(("Content-Length", str(content_length)))
                    else:
                        forwarded.append(("Transfer-Encoding", "chunked"))
                    stream = stream_body(receive, route.max_body)
            try:
                request = request_head(
                    method, balancer.base_path + target, balancer.host, forwarded, data, framed=stream is not None
                )
            except (ValueError, UnicodeEncodeError):
                await send_error(send, 400, envelope_bytes("Invalid header value"), rid_bytes, cors_headers)
                return 400
            if data:
                request += data
            return await forward(
                balancer,
                route,
                request,
                stream,
                chunked,
                method in IDEMPOTENT and stream is None,
                send,
                rid,
                rid_bytes,
                cors_headers,
                no_body=method == "HEAD",
            )
        except BodyTooLarge:
            await send_error(send, 413, TOO_LARGE, rid_bytes, cors_headers)
            return 413
        except ClientGone:
            return 499  # nginx's "client closed request": counted, never sent

    async def _rate_limit(self, route: Route, client: str) -> None:
        item = self._limits[route.router]
        if await self.limiter.hit(item, route.router, client):
            return
        stats = await self.limiter.get_window_stats(item, route.router, client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise Rejected(429, "Too many requests", ((b"retry-after", str(retry_after).encode()),))
