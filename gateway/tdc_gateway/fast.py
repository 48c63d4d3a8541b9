"""The one forwarding path: every proxied request goes over the gateway's own client (upstream.py).

Plain-HTTP and https upstreams alike, with or without a body: a body up to SMALL_BODY is read
whole and sent with the head in one write (and can be replayed); a larger or chunked one is
streamed as it arrives, under the route's size limit. The answer is sent to the client in one
message when it is complete on arrival or has a Content-Length up to SMALL_BODY; anything else
(chunked, unknown or large length) is streamed as it arrives.

One error mapping: 503 (with Retry-After) when no connection can be made within the connect
timeout, 504 when the response does not start within the response timeout, 502 when the
upstream breaks off. One retry rule: a reused keep-alive connection that ends before any byte
of the response (the upstream closed it while it sat idle) is replayed on another connection at
once, and a failed connection gets the route's retry attempts, both for idempotent requests
whose body we hold only (a POST may have reached the upstream; a streamed body is gone).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from starlette.types import Receive, Send

from .errors import BAD_GATEWAY, RETRY_LATER, TIMEOUT, UNAVAILABLE, send_error
from .table import Route
from .upstream import BrokenResponse, ConnectFailed, Connection, NoResponse, ResponseTimeout, UpstreamPool

log = logging.getLogger("tdc.gateway")

# Bodies up to this size are read whole (requests) or sent in one message (answers).
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

Headers = tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]]


class BodyTooLarge(Exception):
    """The request body passed the route's limit (on its Content-Length, or while it arrived)."""


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


class FastUpstreams:
    """One connection pool per upstream base URL (http or https)."""

    def __init__(self, keepalive: float, limit: int, local_addr: tuple[str, int] | None = None) -> None:
        self.keepalive = keepalive
        self.limit = limit
        self.local_addr = local_addr
        self._pools: dict[str, tuple[UpstreamPool, str, str]] = {}
        self._tls: ssl.SSLContext | None = None

    def add(self, upstream: str) -> None:
        if upstream in self._pools:
            return
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream {upstream!r}: the gateway forwards to http:// and https:// URLs only")
        tls = None
        if parts.scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        port = parts.port or (443 if tls is not None else 80)
        pool = UpstreamPool(parts.hostname, port, self.keepalive, self.limit, tls, self.local_addr)
        host = parts.netloc.rsplit("@", 1)[-1]
        self._pools[upstream] = (pool, host, parts.path.rstrip("/"))

    def get(self, upstream: str) -> tuple[UpstreamPool, str, str] | None:
        return self._pools.get(upstream)

    def close(self) -> None:
        for pool, _, _ in self._pools.values():
            pool.close()


def request_head(
    method: str,
    target: str,
    host: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    *,
    framed: bool = False,
) -> bytes:
    """The request line and headers, or ValueError for a value that would split the head.

    `framed`: the headers already say how the (streamed) body is delimited."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    elif not framed and method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    text = "\r\n".join(lines)
    # Header values come from uvicorn's parser (no CR/LF) and from token claims: one count
    # per character class checks them all (a header injected by a claim would add a line).
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise ValueError("line break in a header value")
    return (text + "\r\n\r\n").encode("latin-1")


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body (a small one), under the same limit and disconnect rules as a stream."""
    return b"".join([chunk async for chunk in stream_body(receive, limit)])


async def stream_body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives: BodyTooLarge past `limit`, ClientGone on a disconnect."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def forward(
    pool: UpstreamPool,
    route: Route,
    request: bytes,
    body: AsyncIterator[bytes] | None,
    chunked: bool,
    replayable: bool,
    send: Send,
    rid: str,
    rid_bytes: bytes,
    cors_headers: Headers,
    *,
    no_body: bool = False,
) -> int:
    """Send `request` (head, and a body read whole) then stream `body` if given; relay the answer.

    BodyTooLarge and ClientGone from the streamed body reach the caller, the connection closed."""
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
        try:
            conn.send(request, no_body=no_body)
            if body is not None:
                await _send_body(conn, body, chunked, route.response_timeout)
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
            conn.close()
            log.warning("upstream %s timed out", route.service, extra={"request_id": rid, "router": route.router})
            await send_error(send, 504, TIMEOUT, rid_bytes, cors_headers)
            return 504
        except BrokenResponse as exc:
            conn.close()
            _warn(route, rid, 502, exc)
            await send_error(send, 502, BAD_GATEWAY, rid_bytes, cors_headers)
            return 502
        except BaseException:
            conn.close()  # cancelled, or the client's body failed mid-exchange: the state is unknown
            raise
    try:
        return await _relay(conn, route, send, rid, rid_bytes, cors_headers)
    finally:
        conn.finish()


async def _send_body(conn: Connection, body: AsyncIterator[bytes], chunked: bool, within: float) -> None:
    async for chunk in body:
        await conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk, within)
    if chunked:
        await conn.write(b"0\r\n\r\n", within)


async def _relay(
    conn: Connection,
    route: Route,
    send: Send,
    rid: str,
    rid_bytes: bytes,
    cors_headers: Headers,
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
        if length is None and status not in _NO_BODY_STATUS and not conn.no_body:
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
