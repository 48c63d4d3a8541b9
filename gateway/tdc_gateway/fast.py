"""The one forwarding path: every proxied request goes over the gateway's own client (upstream.py).

Plain-HTTP and https upstreams alike, with or without a body: a body up to SMALL_BODY is read
whole and sent with the head in one write (and can be replayed); a larger or chunked one is
streamed as it arrives, under the route's size limit. The answer is sent to the client in one
message when it is complete on arrival or has a Content-Length up to SMALL_BODY; anything else
(chunked, unknown or large length) is streamed as it arrives.

A service may have several servers (replicas): a Balancer takes them in turn. A server that
refuses a connection sits out SIT_OUT seconds, and the request goes to the next server at once,
whatever its method: nothing of it was sent. When every server has refused, the route's retry
attempts apply, with their back-off.

One error mapping: 503 (with Retry-After) when no connection can be made within the connect
timeout, 504 when the response does not start within the response timeout, 502 when the
upstream breaks off. One retry rule for a request that may have reached a server: a reused
keep-alive connection that ends before any byte of the response (the upstream closed it while
it sat idle) is replayed on another connection at once, and a connection that breaks before
the response head gets the route's retry attempts on the next server; both for idempotent
requests whose body we hold only (a POST may have been applied; a streamed body is gone).
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


# How long a server that refused a connection is passed over (Traefik's passive health check
# has the same idea): long enough not to pay a refused connect per request, short enough that a
# restarted replica gets traffic again within seconds.
SIT_OUT = 2.0


class Balancer:
    """The servers of one service, taken in turn; one that refused a connection sits out."""

    def __init__(self, pools: list[UpstreamPool], host: str, base_path: str) -> None:
        self.pools = pools
        self.host = host  # the Host header for every server: the service's first server's
        self.base_path = base_path  # shared by all its servers (checked when the table loads)
        self._next = 0
        self._down_until = [0.0] * len(pools)

    def pick(self) -> UpstreamPool:
        pools = self.pools
        if len(pools) == 1:
            return pools[0]
        now = pools[0].loop.time()
        count = len(pools)
        for _ in range(count):
            index = self._next
            self._next = (index + 1) % count
            if self._down_until[index] <= now:
                return pools[index]
        return pools[self._next]  # every server sits out: try them in turn anyway

    def refused(self, pool: UpstreamPool) -> None:
        self._down_until[self.pools.index(pool)] = pool.loop.time() + SIT_OUT

    def other(self, tried: list[UpstreamPool]) -> UpstreamPool | None:
        """A server not in `tried`, preferring one that is not sitting out."""
        left = [i for i, pool in enumerate(self.pools) if pool not in tried]
        if not left:
            return None
        now = self.pools[0].loop.time()
        up = [i for i in left if self._down_until[i] <= now]
        return self.pools[(up or left)[0]]


class FastUpstreams:
    """One connection pool per server base URL (http or https), and a Balancer per service."""

    def __init__(self, keepalive: float, limit: int, local_addr: tuple[str, int] | None = None) -> None:
        self.keepalive = keepalive
        self.limit = limit
        self.local_addr = local_addr
        self._pools: dict[str, UpstreamPool] = {}
        self._balancers: dict[tuple[str, ...], Balancer] = {}
        self._tls: ssl.SSLContext | None = None

    def add(self, servers: tuple[str, ...]) -> Balancer:
        balancer = self._balancers.get(servers)
        if balancer is None:
            first = urlsplit(servers[0])
            host = first.netloc.rsplit("@", 1)[-1]
            balancer = Balancer([self._pool(url) for url in servers], host, first.path.rstrip("/"))
            self._balancers[servers] = balancer
        return balancer

    def _pool(self, upstream: str) -> UpstreamPool:
        pool = self._pools.get(upstream)
        if pool is not None:
            return pool
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream {upstream!r}: the gateway forwards to http:// and https:// URLs only")
        tls = None
        if parts.scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        port = parts.port or (443 if tls is not None else 80)
        pool = UpstreamPool(parts.hostname, port, self.keepalive, self.limit, tls, self.local_addr)
        self._pools[upstream] = pool
        return pool

    def get(self, servers: tuple[str, ...]) -> Balancer | None:
        return self._balancers.get(servers)

    def close(self) -> None:
        for pool in self._pools.values():
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
    balancer: Balancer,
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
    pool = balancer.pick()
    refused: list[UpstreamPool] = []  # servers that refused since the last back-off
    while True:
        try:
            conn = await pool.get(route.connect_timeout)
        except ConnectFailed as exc:
            balancer.refused(pool)
            refused.append(pool)
            other = balancer.other(refused)
            if other is not None:
                pool = other  # the request never left: another server may take any method at once
                continue
            if replayable and attempt < route.retry_attempts:
                await asyncio.sleep(route.retry_interval * (2**attempt))
                attempt += 1
                pool, refused = balancer.pick(), []
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
        except (NoResponse, BrokenResponse) as exc:
            conn.close()
            if replayable and conn.reused and isinstance(exc, NoResponse):
                continue  # closed by the upstream while idle: not an attempt
            if replayable and attempt < route.retry_attempts:
                # The server broke off before its answer began (it may be going down): the next one.
                await asyncio.sleep(route.retry_interval * (2**attempt))
                attempt += 1
                pool = balancer.other([pool]) or pool
                continue
            _warn(route, rid, 502, exc)
            await send_error(send, 502, BAD_GATEWAY, rid_bytes, cors_headers)
            return 502
        except ResponseTimeout:
            conn.close()
            log.warning("upstream %s timed out", route.service, extra={"request_id": rid, "router": route.router})
            await send_error(send, 504, TIMEOUT, rid_bytes, cors_headers)
            return 504
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
