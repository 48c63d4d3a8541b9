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
- A request body must keep arriving: BODY_TIMEOUT_SECONDS (30, `TDC_HTTP_BODY_TIMEOUT_SECONDS`)
  without a byte of it gives 408 and
  the connection closes. At most MAX_WAITING_BODIES connections per process may be waiting
  for a body at once; past that the one that has waited longest without progress gets its 408
  first. A client that starts a body and stops can no longer hold a connection (and the
  application's task reading it) forever.
- A malformed body framing (a chunk size such as `zz`) gets its 400 in the envelope too, when
  nothing of the answer has gone out yet; the application reading that body sees a disconnect.
- An answer's head and its body leave in one write. uvicorn writes them apart, which costs a
  second send (and, behind the gateway, a second read and wake-up on its side) per answer.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .envelope import envelope_bytes
from .observability import PEER_SCOPE_KEY

# As nginx's default (4 buffers of 8 KiB); a browser with a full cookie jar stays well below.
MAX_HEAD_BYTES = 32 * 1024
# After a refusal, how long the rest of what the client sends is read and dropped. Closing at
# once, with its bytes unread, would reset the connection and the client could lose our answer.
LINGER_SECONDS = 2.0
HEAD_TIMEOUT_SECONDS = 10.0
# Silence allowed while a body is arriving (nginx's client_body_timeout is 60 s; browsers and
# the gateway send without pauses), and how many connections may be waiting for one at once.
# uvicorn builds the protocol before any app settings exist: TDC_HTTP_BODY_TIMEOUT_SECONDS is
# read here, at import (the end-to-end stack shortens it).
BODY_TIMEOUT_SECONDS = float(os.environ.get("TDC_HTTP_BODY_TIMEOUT_SECONDS", "30"))
MAX_WAITING_BODIES = 256


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request we have already answered."""


# What uvicorn writes before a response when the client sent `Expect: 100-continue`.
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _HeadWithBody:
    """The transport a response cycle writes to, holding its response head for the body's first write.

    uvicorn's first write for a response is its head (a 100 Continue, written before it, goes
    straight through). The head is held only until the end of the current loop iteration
    (`call_soon`): an answer whose body comes later (a stream) still gets its head at once.
    It keeps no reference to its cycle: a cycle of references would make every request
    garbage that only the collector frees.
    """

    __slots__ = ("_head", "_held_once", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._held_once = False

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._held_once and data != _CONTINUE:
            self._held_once = True
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


class EnvelopeHttpProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_seconds = HEAD_TIMEOUT_SECONDS
    body_timeout_seconds = BODY_TIMEOUT_SECONDS
    max_waiting_bodies = MAX_WAITING_BODIES
    # Connections of this process whose request body is incomplete, least recent progress first.
    _waiting_bodies: ClassVar[OrderedDict[EnvelopeHttpProtocol, None]] = OrderedDict()
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
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
        self._body_done()
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
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            # A new cycle (an upgrade returns early and keeps the last one): its task has not run
            # yet, so nothing has been written through it.
            cycle.transport = _HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]
        # The TCP peer as it is, for ForwardedClientMiddleware: uvicorn's own proxy-header
        # handling (on by default for 127.0.0.1) rewrites scope["client"] from any loopback caller.
        scope = getattr(self, "scope", None)
        if scope is not None and self.client is not None:
            scope[PEER_SCOPE_KEY] = self.client

    def on_message_complete(self) -> None:
        self._body_done()
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._received_any = True
        super().data_received(data)
        if self._refused:
            return
        # A head still incomplete after this read is held in memory: bound it as it arrives,
        # before the parser has a whole header to report.
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, "Request header fields too large")
        elif self.cycle is not None and self.cycle.more_body:
            # A body still incomplete after this read (on_message_complete ends the wait): only
            # then is a timer armed, so requests that arrive whole cost nothing here. Once the
            # answer has gone out unread, the rest gets one timeout in all, not one per byte.
            if not (self.cycle.response_complete and self._body_timer is not None):
                self._body_progress()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal stops the parser with an error of its own
            self._refuse(400, "Malformed HTTP request")

    def _body_progress(self) -> None:
        """Body bytes are arriving (or about to): restart the silence timer, go to the back of the line."""
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = self.loop.call_later(self.body_timeout_seconds, self._body_timed_out)
        waiting = type(self)._waiting_bodies
        waiting.pop(self, None)
        waiting[self] = None
        while len(waiting) > self.max_waiting_bodies:
            oldest = next(iter(waiting))
            oldest._body_timed_out()

    def _body_done(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        type(self)._waiting_bodies.pop(self, None)

    def _body_timed_out(self) -> None:
        self._body_done()
        if self._refused or self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_complete:
            self.transport.close()  # answered already (without reading it all): nothing more to say
            return
        self._refuse(408, "Request body not received in time")

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
        self._body_done()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.more_body or cycle.response_started:
                # A pipelined request went wrong while an earlier one is still being answered, or
                # this one's answer has begun: an answer now would land inside that one, so the
                # connection just ends.
                self.transport.close()
                return
            # This request's own body is broken or stalled, and nothing has been answered: the
            # application sees a disconnect (its sends are dropped) and we answer in its place.
            cycle.disconnected = True
            cycle.message_event.set()
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
