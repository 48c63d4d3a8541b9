"""uvicorn's httptools protocol, with two edges of it fitted to this API.

Run every service and the gateway with `uvicorn --http tdc_shared.http_protocol:EnvelopeHttpProtocol`
(deploy/docker, deploy/local, the benchmarks):

- A request uvicorn cannot parse (a body framed by both Content-Length and Transfer-Encoding,
  two Content-Lengths, a folded header, a NUL in the path...) gets its 400 in the error
  envelope, like every other error, instead of uvicorn's plain-text one.
- The request line and headers may take MAX_HEAD_BYTES at most; past that the answer is 431
  and the connection closes. httptools itself sets no limit: without one a client could make
  us (and the service behind the gateway) hold headers of any size in memory.
- They must also arrive within HEAD_TIMEOUT_SECONDS of the connection opening or of the
  request's first byte: 408 otherwise, or a plain close if nothing came at all. uvicorn times
  out only idle keep-alive connections, so a client trickling its headers (or sending
  nothing) could hold a connection, and its memory, forever.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .envelope import envelope_bytes
from .observability import PEER_SCOPE_KEY

# As nginx's default (4 buffers of 8 KiB); a browser with a full cookie jar stays well below.
MAX_HEAD_BYTES = 32 * 1024
# After a refusal, how long the rest of what the client sends is read and dropped. Closing at
# once, with its bytes unread, would reset the connection and the client could lose our answer.
LINGER_SECONDS = 2.0
HEAD_TIMEOUT_SECONDS = 10.0


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request we have already answered."""


class EnvelopeHttpProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_seconds = HEAD_TIMEOUT_SECONDS
    _head_timer: asyncio.TimerHandle | None = None
    _received_any = False
    _in_head = False
    _head_bytes = 0  # raw bytes received while the head is incomplete (what we hold)
    _parsed_head_bytes = 0  # the head as parsed, however it arrived
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._parsed_head_bytes = 0
        if self._head_timer is None:  # a later request on a kept-alive connection
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_parsed(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()
        # The TCP peer as it is, for ForwardedClientMiddleware: uvicorn's own proxy-header
        # handling (on by default for 127.0.0.1) rewrites scope["client"] from any loopback caller.
        scope = getattr(self, "scope", None)
        if scope is not None and self.client is not None:
            scope[PEER_SCOPE_KEY] = self.client

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._received_any = True
        super().data_received(data)
        # A head still incomplete after this read is held in memory: bound it as it arrives,
        # before the parser has a whole header to report.
        if self._in_head and not self._refused:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, "Request header fields too large")

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal stops the parser with an error of its own
            self._refuse(400, "Malformed HTTP request")

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_seconds, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._received_any:
            self._refuse(408, "Request headers not received in time")
        else:
            self.transport.close()  # nothing was asked: nothing to answer

    def _count_parsed(self, size: int) -> None:
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > self.max_head_bytes:
            self._refuse(431, "Request header fields too large")
            raise _Refused

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._disarm_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request went wrong while an earlier one is still being answered: an
            # answer now would land in the middle of that one's, so the connection just ends.
            self.transport.close()
            return
        if status == 431:
            self.logger.warning("Request head larger than %d bytes refused.", self.max_head_bytes)
        body = envelope_bytes(message)
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer is complete; data_received drops the rest
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
