"""The hot path: forward one HTTP request to its route's upstream and stream the answer back.

A plain ASGI function. Plain-HTTP upstreams get most requests over our own keep-alive client
(fast.py, upstream.py); streamed request bodies, HEAD and https upstreams go over one
keep-alive `aiohttp` session (an httpx-based proxy measured 0.12-0.17
of direct). Everything per route is computed when the
table loads; per request we make one pass over the headers, check the policy (verified
tokens are cached until they expire), and copy bytes. No logging on success.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import Receive, Scope, Send

from tdc_shared.envelope import envelope_bytes
from tdc_shared.logs import accept_request_id

from .cors import Cors
from .errors import BAD_GATEWAY as _BAD_GATEWAY
from .errors import TIMEOUT as _TIMEOUT
from .errors import TOO_LARGE as _TOO_LARGE
from .errors import UNAVAILABLE as _UNAVAILABLE
from .errors import send_error
from .fast import DROP_RESPONSE as _DROP_RESPONSE
from .fast import SMALL_BODY, FastUpstreams, request_head
from .fast import forward as forward_fast
from .metrics import ProxyMetrics
from .policy import PolicyEnforcer, Rejected, identity_headers
from .table import Route

log = logging.getLogger("tdc.gateway")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Set on the session: aiohttp must not add headers the client did not send (an Accept-Encoding
# would get the client a compressed body it never asked for).
SKIP_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Content-Type")

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


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class Proxy:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        enforcer: PolicyEnforcer,
        cors: Cors,
        metrics: ProxyMetrics,
        trusted_proxies: frozenset[str],
        fast: FastUpstreams | None = None,
    ) -> None:
        self.session = session
        self.fast = fast
        self.enforcer = enforcer
        self.cors = cors
        self.metrics = metrics
        self.trusted_proxies = trusted_proxies
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._limits: dict[str, Any] = {}
        self._timeouts: dict[str, aiohttp.ClientTimeout] = {}

    def prepare(self, route: Route) -> None:
        """Per-route objects built once, not per request."""
        self._timeouts[route.router] = aiohttp.ClientTimeout(
            total=None,
            connect=route.connect_timeout,  # DNS and pool wait included: a missing host is a 503 in time
            sock_connect=route.connect_timeout,
            sock_read=route.response_timeout,
        )
        if self.fast is not None:
            self.fast.add(route.upstream)
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
        trusted = peer in self.trusted_proxies
        client_ip = peer
        if trusted and client_xff:
            client_ip = client_xff.rsplit(",", 1)[-1].strip() or peer
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

        if content_length is not None and (content_length < 0 or content_length > route.max_body):
            if content_length < 0:
                await send_error(send, 400, envelope_bytes("Invalid Content-Length"), rid_bytes, cors_headers)
                return 400
            await send_error(send, 413, _TOO_LARGE, rid_bytes, cors_headers)
            return 413

        method = scope["method"]
        data: bytes | AsyncIterator[bytes] | None = None
        too_large = [False]
        if chunked or (content_length or 0) > 0:
            if not chunked and content_length is not None and content_length <= SMALL_BODY:
                try:
                    data = await _read_body(receive, route.max_body)
                except ClientGone:
                    return 499  # nginx's "client closed request": counted, never sent
                except BodyTooLarge:
                    await send_error(send, 413, _TOO_LARGE, rid_bytes, cors_headers)
                    return 413
            else:
                if content_length is not None:
                    forwarded.append(("Content-Length", str(content_length)))
                data = _stream_body(receive, route.max_body, too_large)
        replayable = method in IDEMPOTENT and not isinstance(data, AsyncIterator)

        query = scope.get("query_string")
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if query:
            target += "?" + query.decode("latin-1")
        fast = self.fast.get(route.upstream) if self.fast is not None and method != "HEAD" else None
        if fast is not None and not isinstance(data, AsyncIterator):
            pool, upstream_host, base_path = fast
            try:
                request = request_head(method, base_path + target, upstream_host, forwarded, data)
            except (ValueError, UnicodeEncodeError):
                await send_error(send, 400, envelope_bytes("Invalid header value"), rid_bytes, cors_headers)
                return 400
            if data:
                request += data
            return await forward_fast(pool, route, request, replayable, send, rid, rid_bytes, cors_headers)
        url = route.upstream + target
        timeout = self._timeouts[route.router]

        attempt = 0
        while True:
            try:
                response = await self.session.request(
                    method,
                    url,
                    headers=forwarded,  # aiohttp copies pairs into its own CIMultiDict
                    data=data,
                    timeout=timeout,
                    allow_redirects=False,
                )
                break
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if too_large[0]:
                    await send_error(send, 413, _TOO_LARGE, rid_bytes, cors_headers)
                    return 413
                if replayable and attempt < route.retry_attempts:
                    await asyncio.sleep(route.retry_interval * (2**attempt))
                    attempt += 1
                    continue
                refused = isinstance(exc, aiohttp.ClientConnectorError)
                status, body = (503, _UNAVAILABLE) if refused else (502, _BAD_GATEWAY)
                log.warning(
                    "upstream %s failed: %s",
                    route.service,
                    type(exc).__name__,
                    extra={"request_id": rid, "router": route.router, "status": status},
                )
                extra = [(b"retry-after", b"5"), *cors_headers] if refused else cors_headers
                await send_error(send, status, body, rid_bytes, extra)
                return status
            except aiohttp.ConnectionTimeoutError:
                await send_error(send, 503, _UNAVAILABLE, rid_bytes, [(b"retry-after", b"5"), *cors_headers])
                return 503
            except TimeoutError:
                log.warning("upstream %s timed out", route.service, extra={"request_id": rid, "router": route.router})
                await send_error(send, 504, _TIMEOUT, rid_bytes, cors_headers)
                return 504
            except aiohttp.ClientError as exc:
                if too_large[0]:
                    await send_error(send, 413, _TOO_LARGE, rid_bytes, cors_headers)
                    return 413
                if isinstance(exc.__cause__, ClientGone):
                    return 499
                log.warning("upstream %s failed: %r", route.service, exc, extra={"request_id": rid})
                await send_error(send, 502, _BAD_GATEWAY, rid_bytes, cors_headers)
                return 502
        return await self._relay(response, route, method, send, rid_bytes, cors_headers)

    async def _relay(
        self,
        response: aiohttp.ClientResponse,
        route: Route,
        method: str,
        send: Send,
        rid_bytes: bytes,
        cors_headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]],
    ) -> int:
        status = response.status
        try:
            headers = [(k.lower(), v) for k, v in response.raw_headers if k.lower() not in _DROP_RESPONSE]
            headers.append((b"x-request-id", rid_bytes))
            headers += cors_headers
            length = response.content_length
            if method == "HEAD" or status in (204, 304) or (length is not None and length <= SMALL_BODY):
                try:
                    body = b"" if method == "HEAD" or status in (204, 304) else await response.read()
                except TimeoutError:
                    await send_error(send, 504, _TIMEOUT, rid_bytes, cors_headers)
                    return 504
                except aiohttp.ClientError:
                    await send_error(send, 502, _BAD_GATEWAY, rid_bytes, cors_headers)
                    return 502
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return status
            await send({"type": "http.response.start", "status": status, "headers": headers})
            try:
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (TimeoutError, aiohttp.ClientError) as exc:
                # Headers are gone already: all we can do is cut the response short.
                log.warning("upstream %s broke off its response: %r", route.service, exc)
                raise
            await send({"type": "http.response.body", "body": b""})
            return status
        finally:
            response.release()

    async def _rate_limit(self, route: Route, client: str) -> None:
        item = self._limits[route.router]
        if await self.limiter.hit(item, route.router, client):
            return
        stats = await self.limiter.get_window_stats(item, route.router, client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise Rejected(429, "Too many requests", ((b"retry-after", str(retry_after).encode()),))


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body (a small one), under the same limit and disconnect rules as a stream."""
    return b"".join([chunk async for chunk in _stream_body(receive, limit, [False])])


async def _stream_body(receive: Receive, limit: int, too_large: list[bool]) -> AsyncIterator[bytes]:
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large[0] = True
            raise BodyTooLarge
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
