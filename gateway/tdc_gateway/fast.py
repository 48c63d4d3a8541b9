"""The common case forwarded over our own keep-alive client (upstream.py) instead of aiohttp.

Used for plain-HTTP upstreams when the request body is absent or already read whole (small)
and the method is not HEAD; streamed request bodies and HEAD keep the aiohttp path. The
answer is sent to the client in one message when it is complete on arrival or has a
Content-Length up to SMALL_BODY; anything else (chunked, unknown or large length) is
streamed as it arrives. Same statuses as the aiohttp path: 503 when no connection can be
made within the connect timeout, 504 when the response does not come within the response
timeout, 502 when the upstream breaks off.

Retries: a reused keep-alive connection that ends before any byte of the response (the
upstream closed it while it sat idle) is replayed on another connection at once, but only
for idempotent methods: a POST may have reached the upstream, we cannot tell. Beyond that,
idempotent requests get the route's retry attempts, as before.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from starlette.types import Send

from .errors import BAD_GATEWAY, RETRY_LATER, TIMEOUT, UNAVAILABLE, send_error
from .table import Route
from .upstream import BrokenResponse, ConnectFailed, Connection, NoResponse, ResponseTimeout, UpstreamPool

log = logging.getLogger("tdc.gateway")

# Responses up to this size are read whole and sent in one message; larger ones stream.
SMALL_BODY = 256 * 1024
# uvicorn adds its own date and server headers: the upstream's would be duplicates.
DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"upgrade",
        b"trailer",
        b"proxy-connection",
        b"x-request-id",
        b"date",
        b"server",
    }
)
_NO_BODY_STATUS = (204, 304)


class FastUpstreams:
    """One connection pool per plain-HTTP upstream base URL."""

    def __init__(self, keepalive: float, limit: int) -> None:
        self.keepalive = keepalive
        self.limit = limit
        self._pools: dict[str, tuple[UpstreamPool, str, str]] = {}

    def add(self, upstream: str) -> None:
        if upstream in self._pools:
            return
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            return  # https and the like stay with aiohttp
        pool = UpstreamPool(parts.hostname, parts.port or 80, self.keepalive, self.limit)
        host = parts.netloc.rsplit("@", 1)[-1]
        self._pools[upstream] = (pool, host, parts.path.rstrip("/"))

    def get(self, upstream: str) -> tuple[UpstreamPool, str, str] | None:
        return self._pools.get(upstream)

    def close(self) -> None:
        for pool, _, _ in self._pools.values():
            pool.close()


def request_head(method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes | None) -> bytes:
    """The request line and headers, or ValueError for a value that would split the head."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    text = "\r\n".join(lines)
    # Header values come from uvicorn's parser (no CR/LF) and from token claims: one count
    # per character class checks them all (a header injected by a claim would add a line).
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise ValueError("line break in a header value")
    return (text + "\r\n\r\n").encode("latin-1")


async def forward(
    pool: UpstreamPool,
    route: Route,
    request: bytes,
    replayable: bool,
    send: Send,
    rid: str,
    rid_bytes: bytes,
    cors_headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]],
) -> int:
    attempt = 0
    while True:
        try:
            conn = await pool.get(route.connect_timeout)
        except ConnectFailed as exc:
            if replayable and attempt < route.retry_attempts:
                await asyncio.sleep(route.retry_interval * (2**attempt))
                attempt += 1
                continue
            _warn(route, rid, 503, exc)
            await send_error(send, 503, UNAVAILABLE, rid_bytes, [RETRY_LATER, *cors_headers])
            return 503
        conn.send(request)
        try:
            while not conn.head_done:
                await conn.wait(route.response_timeout)
            break
        except NoResponse as exc:
            conn.close()
            if replayable and conn.reused:
                continue  # closed by the upstream while idle: not an attempt
            if replayable and attempt < route.retry_attempts:
                await asyncio.sleep(route.retry_interval * (2**attempt))
                attempt += 1
                continue
            _warn(route, rid, 502, exc)
            await send_error(send, 502, BAD_GATEWAY, rid_bytes, cors_headers)
            return 502
        except ResponseTimeout:
            log.warning("upstream %s timed out", route.service, extra={"request_id": rid, "router": route.router})
            await send_error(send, 504, TIMEOUT, rid_bytes, cors_headers)
            return 504
        except BrokenResponse as exc:
            conn.close()
            _warn(route, rid, 502, exc)
            await send_error(send, 502, BAD_GATEWAY, rid_bytes, cors_headers)
            return 502
        except BaseException:
            conn.close()  # cancelled mid-exchange: the connection's state is unknown
            raise
    try:
        return await _relay(conn, route, send, rid, rid_bytes, cors_headers)
    finally:
        conn.finish()


async def _relay(
    conn: Connection,
    route: Route,
    send: Send,
    rid: str,
    rid_bytes: bytes,
    cors_headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]],
) -> int:
    status = conn.status
    headers = [(name, value) for name, value in conn.headers if name not in DROP_RESPONSE]
    headers.append((b"x-request-id", rid_bytes))
    headers += cors_headers
    length = conn.content_length
    if conn.complete or (length is not None and length <= SMALL_BODY and not conn.chunked):
        try:
            while not conn.complete:
                await conn.wait(route.response_timeout)
        except ResponseTimeout:
            await send_error(send, 504, TIMEOUT, rid_bytes, cors_headers)
            return 504
        except (NoResponse, BrokenResponse) as exc:
            _warn(route, rid, 502, exc)
            await send_error(send, 502, BAD_GATEWAY, rid_bytes, cors_headers)
            return 502
        body = conn.take_body()
        if length is None and status not in _NO_BODY_STATUS:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status
    await send({"type": "http.response.start", "status": status, "headers": headers})
    while True:
        if conn.chunks:
            await send({"type": "http.response.body", "body": conn.take_body(), "more_body": True})
        if conn.complete:
            break
        try:
            await conn.wait(route.response_timeout)
        except (ResponseTimeout, NoResponse, BrokenResponse) as exc:
            # Headers are gone already: all we can do is cut the response short.
            log.warning("upstream %s broke off its response: %r", route.service, exc, extra={"request_id": rid})
            raise
    await send({"type": "http.response.body", "body": b""})
    return status


def _warn(route: Route, rid: str, status: int, exc: Exception) -> None:
    log.warning(
        "upstream %s failed: %s",
        route.service,
        exc,
        extra={"request_id": rid, "router": route.router, "status": status},
    )
