"""The gateway's one upstream client: HTTP/1.1 with keep-alive, over TCP or TLS.

An aiohttp session cost the gateway about a third of its CPU per request (request objects,
header multidicts, a timer rescheduled on every read). Here a request is one
`transport.write` of bytes built by the proxy (then, for a streamed upload, its body as it
arrives, with the transport's flow control), the answer is parsed incrementally by
`httptools` (the parser uvicorn uses), and each upstream has a LIFO pool of idle keep-alive
connections. One request at a time per connection, no pipelining.

What the proxy needs to decide on a failure is recorded on the connection: whether it was
reused from the pool, and whether any byte of the answer arrived (a reused connection that
the upstream closed while idle fails with no answer at all).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque

import httptools


class UpstreamError(Exception):
    pass


class ConnectFailed(UpstreamError):
    """No connection: refused, unreachable, unknown host, or not within the connect timeout."""


class NoResponse(UpstreamError):
    """The connection ended before any byte of the response."""


class BrokenResponse(UpstreamError):
    """The connection ended, or the parser gave up, in the middle of a response."""


class ResponseTimeout(UpstreamError):
    pass


class Connection(asyncio.Protocol):
    """One upstream connection; `exchange` state is reset before each request."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        # After an answer without a body (HEAD) llhttp still expects its Content-Length of
        # bytes: the next exchange gets a fresh parser.
        self._parser_spent = False
        self.no_body = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.content_length: int | None = None
        self.chunked = False
        self.got_bytes = False
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.error: UpstreamError | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BrokenResponse(f"invalid response: {exc}"))
            self.close()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()
        self.pool.lost(self)
        if not self.complete:
            if self.head_done and self.content_length is None and not self.chunked:
                self.complete = True  # a body delimited by the end of the connection
                self._wake()
            elif not self.got_bytes:
                self._fail(NoResponse("connection closed before any response byte"))
            else:
                self._fail(BrokenResponse("connection closed in the middle of the response"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            try:
                self.content_length = int(value)
            except ValueError:
                self.content_length = None
        elif name == b"transfer-encoding":
            self.chunked = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            # An informational answer (103 Early Hints): the real one follows.
            self.headers = []
            self.content_length = None
            self.chunked = False
            return
        self.status = status
        self.head_done = True
        if self.no_body:
            # The answer to HEAD: its Content-Length describes a body that is not sent.
            self.keep_alive = self.parser.should_keep_alive()
            self.complete = True
            self._parser_spent = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > FLOW_LIMIT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done:
            # llhttp answers this only inside its callbacks: afterwards it has reset.
            self.keep_alive = self.parser.should_keep_alive()
            self.complete = True
            self._wake()

    # used by the proxy

    def send(self, request: bytes, *, no_body: bool = False) -> None:
        """Start an exchange: the request head (and a body read whole); `no_body` for HEAD."""
        assert self.transport is not None
        self._reset()
        if self._parser_spent:
            self.parser = httptools.HttpResponseParser(self)
            self._parser_spent = False
        self.no_body = no_body
        self.transport.write(request)

    async def write(self, data: bytes, within: float) -> None:
        """More of a streamed request body, waiting while the upstream's socket buffer is full."""
        if self.error is not None:
            raise self.error
        if self.closed or self.transport is None:
            raise BrokenResponse("connection closed while sending the request body")
        self.transport.write(data)
        if self._write_paused:
            drained = self._drained = self.pool.loop.create_future()
            try:
                async with asyncio.timeout(within):
                    await drained
            except TimeoutError as exc:
                raise ResponseTimeout("the upstream stopped reading the request body") from exc
            finally:
                self._drained = None
        if self.error is not None:
            raise self.error

    async def wait(self, within: float) -> None:
        """Wait for more of the response; raise the connection's error, or ResponseTimeout."""
        if self.error is not None:
            raise self.error
        waiter = self._waiter = self.pool.loop.create_future()
        timer = self.pool.loop.call_later(within, self._timed_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self.error is not None:
            raise self.error

    def take_body(self) -> bytes:
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        self.buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return body

    def finish(self) -> None:
        """The exchange is over: back to the pool if the response ended cleanly, else closed."""
        if self.keep_alive and self.complete and not self.closed and self.error is None:
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _timed_out(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            self._fail(ResponseTimeout("no response within the response timeout"))
            self.close()

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


# Buffered response bytes above which we stop reading from the upstream until the client
# has been sent what we hold (only matters for large or slow-consumer streamed answers).
FLOW_LIMIT = 512 * 1024


class UpstreamPool:
    """Keep-alive connections to one host:port, the most recently used first."""

    def __init__(
        self,
        host: str,
        port: int,
        keepalive: float,
        limit: int,
        tls: ssl.SSLContext | None = None,
        local_addr: tuple[str, int] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.local_addr = local_addr  # the gateway's source address, which services trust as their proxy
        self.keepalive = keepalive
        self.limit = limit  # open connections at most; 0: no cap
        self.loop = asyncio.get_running_loop()
        self.idle: list[Connection] = []
        self.open = 0
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()

    async def get(self, connect_timeout: float) -> Connection:
        conn = self._idle_connection()
        if conn is not None:
            return conn
        try:
            async with asyncio.timeout(connect_timeout):
                while self.limit and self.open >= self.limit:
                    waiter: asyncio.Future[Connection | None] = self.loop.create_future()
                    self._waiters.append(waiter)
                    try:
                        handed = await waiter
                    except asyncio.CancelledError:
                        # Timed out just as a connection was handed over: give it to the next.
                        if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                            self.put(waiter.result())  # type: ignore[arg-type]
                        raise
                    if handed is not None:
                        return handed
                self.open += 1
                try:
                    _, conn = await self.loop.create_connection(
                        lambda: Connection(self),
                        self.host,
                        self.port,
                        ssl=self.tls,
                        server_hostname=self.host if self.tls is not None else None,
                        local_addr=self.local_addr,
                    )
                except BaseException:
                    self.open -= 1
                    self._wake_one()
                    raise
        except TimeoutError as exc:
            raise ConnectFailed(f"no connection to {self.host}:{self.port} within {connect_timeout}s") from exc
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return conn

    def _idle_connection(self) -> Connection | None:
        idle = self.idle
        if not idle:
            return None
        oldest = self.loop.time() - self.keepalive
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if conn.idle_since < oldest:
                # Past our keep-alive, so maybe about to be closed by the upstream's own: the ones
                # below it in the stack are older still.
                conn.close()
                for stale in idle:
                    stale.close()
                idle.clear()
                return None
            conn.reused = True
            return conn
        return None

    def put(self, conn: Connection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                conn.reused = True
                waiter.set_result(conn)
                return
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def lost(self, conn: Connection) -> None:
        self.open -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # a slot is free: the waiter connects itself
                return

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
