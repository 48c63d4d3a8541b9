"""The HTTP protocol every service runs under: malformed requests and oversized heads, over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
import uvicorn

from tdc_shared.http_protocol import MAX_HEAD_BYTES, EnvelopeHttpProtocol


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.3)
    if scope["path"] == "/stream":  # a head, then its body a while later (as a stream sends it)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"later"})
        return
    if scope["path"] == "/echo":  # reads the whole body first, as a real endpoint does
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
    body = json.dumps({"headers": len(scope["headers"]), "path": scope["path"]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class QuickProtocol(EnvelopeHttpProtocol):
    head_timeout_seconds = 1.0  # the production 10 s, shortened for the test
    body_timeout_seconds = 1.0  # the production 30 s


class FewBodiesProtocol(EnvelopeHttpProtocol):
    body_timeout_seconds = 60.0  # never reached here: only the bound refuses
    max_waiting_bodies = 2


class RecordingTransport:
    """The connection's transport, with every write it is given kept in `writes`."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


class RecordingProtocol(EnvelopeHttpProtocol):
    writes: ClassVar[list[bytes]] = []

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(RecordingTransport(transport, self.writes))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(protocol: type[EnvelopeHttpProtocol]) -> AsyncIterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=free, http=protocol, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield free
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def port() -> AsyncIterator[int]:
    async with serving(QuickProtocol) as free:
        yield free


async def exchange(port: int, *chunks: bytes) -> tuple[list[bytes], bytes]:
    """Send the chunks (pausing between them) and read until the server closes or goes quiet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break  # the server answered and closed before reading it all
            await asyncio.sleep(0.01)
        data = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(65536), 1.0):
                data += chunk
        # Status lines wherever they start: a response without a body separator follows the last one.
        return re.findall(rb"HTTP/1\.1 \d{3}[^\r]*", data), data
    finally:
        writer.close()


def envelope_of(data: bytes) -> dict:
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    return json.loads(body)


@pytest.mark.parametrize(
    "request_bytes",
    [
        # Content-Length and Transfer-Encoding both: the classic request-smuggling frame.
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["content-length and chunked", "two content-lengths", "folded header", "NUL in the path"],
)
async def test_malformed_requests_get_400_in_the_envelope(port: int, request_bytes: bytes) -> None:
    statuses, data = await exchange(port, request_bytes)
    assert statuses == [b"HTTP/1.1 400 Bad Request"]
    assert envelope_of(data) == {"success": False, "error": "Malformed HTTP request"}


async def test_a_head_over_the_limit_is_431_and_the_connection_closes(port: int) -> None:
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n"
    statuses, data = await exchange(port, big)
    assert statuses == [b"HTTP/1.1 431 Request Header Fields Too Large"]
    assert envelope_of(data) == {"success": False, "error": "Request header fields too large"}


async def test_a_head_trickled_in_small_pieces_is_counted_across_them(port: int) -> None:
    # Nine pieces of 4 KB: quick enough to stay well inside the (shortened) head timeout.
    pieces = [b"GET / HTTP/1.1\r\nHost: x\r\n"] + [b"X-Pad-%05d: %s\r\n" % (n, b"b" * 4000) for n in range(9)]
    statuses, _ = await exchange(port, *pieces, b"\r\n")
    assert statuses == [b"HTTP/1.1 431 Request Header Fields Too Large"]


async def test_heads_under_the_limit_and_pipelined_requests_pass(port: int) -> None:
    # Each request's head is counted from its own start: two 20 KiB heads on one connection pass.
    one = b"GET /one HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"c" * 20_000 + b"\r\n\r\n"
    two = b"GET /two HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"d" * 20_000 + b"\r\nConnection: close\r\n\r\n"
    statuses, data = await exchange(port, one + two)
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK"]
    assert b'"path": "/one"' in data and b'"path": "/two"' in data


async def test_a_large_body_after_a_small_head_is_not_a_large_head(port: int) -> None:
    body = b"e" * (MAX_HEAD_BYTES * 3)
    request = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    statuses, _ = await exchange(port, request + body)
    assert statuses == [b"HTTP/1.1 200 OK"]


async def test_a_head_that_does_not_arrive_in_time_is_408(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and then nothing more
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 2.0)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert envelope_of(data) == {"success": False, "error": "Request headers not received in time"}


async def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(65536), 2.0) == b""  # closed, nothing said
    writer.close()


async def test_the_head_timer_does_not_cut_a_kept_alive_connection(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in (b"/first", b"/second"):
            writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
            assert head.startswith(b"HTTP/1.1 200 ")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            assert path in await reader.readexactly(length)
            await asyncio.sleep(1.3)  # longer than the head timeout, shorter than uvicorn's 5 s keep-alive
    finally:
        writer.close()


async def test_a_bad_pipelined_request_never_answers_inside_an_earlier_answer(port: int) -> None:
    # The second request's head overflows while the first is still being answered: a 431 then
    # would be read as the first one's answer. The connection ends instead.
    first = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /two HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n\r\n"
    statuses, _ = await exchange(port, first + second)
    assert all(not status.startswith(b"HTTP/1.1 431") for status in statuses)


@pytest.mark.parametrize("path", [b"/", b"/echo"])
async def test_a_malformed_chunk_size_is_400_in_the_envelope(port: int, path: bytes) -> None:
    request = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    statuses, data = await exchange(port, request)
    assert statuses == [b"HTTP/1.1 400 Bad Request"]
    assert envelope_of(data) == {"success": False, "error": "Malformed HTTP request"}


async def test_a_body_that_stops_arriving_is_408(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n123456789")  # 9 of 100
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 5.0)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert envelope_of(data) == {"success": False, "error": "Request body not received in time"}


async def test_a_body_arriving_in_pieces_within_the_timeout_passes(port: int) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
    statuses, _ = await exchange(port, head, b"abcd", b"efgh", b"ijkl")
    assert statuses == [b"HTTP/1.1 200 OK"]


async def test_connections_waiting_for_a_body_are_bounded() -> None:
    async with serving(FewBodiesProtocol) as few:
        stalled = []
        for _ in range(3):  # one more than the bound: the one waiting longest is refused
            reader, writer = await asyncio.open_connection("127.0.0.1", few)
            writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            await writer.drain()
            stalled.append((reader, writer))
            await asyncio.sleep(0.05)
        try:
            data = await asyncio.wait_for(stalled[0][0].read(65536), 5.0)
            assert data.startswith(b"HTTP/1.1 408 ")
            # The newer ones still wait for their bodies: finishing one is answered normally.
            stalled[2][1].write(b"d" * 97)
            await stalled[2][1].drain()
            head = await asyncio.wait_for(stalled[2][0].readuntil(b"\r\n\r\n"), 5.0)
            assert head.startswith(b"HTTP/1.1 200 ")
        finally:
            for _, writer in stalled:
                writer.close()


async def test_a_body_trickling_after_an_early_answer_is_cut_off(port: int) -> None:
    # "/" answers without reading the body; a client that keeps the body coming slower than the
    # timeout must not hold the connection for ever (keep-alive timing stops once bytes arrive).
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        assert head.startswith(b"HTTP/1.1 200 ")
        closed = False
        for _ in range(60):  # bounded: far longer than the shortened body timeout
            try:
                writer.write(b"d")
                await writer.drain()
                if await asyncio.wait_for(reader.read(65536), 0.5) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
        assert closed, "the connection stayed open while the body trickled"
    finally:
        writer.close()


async def test_an_answer_leaves_in_one_write() -> None:
    # uvicorn writes the head and the body apart: two sends, and two reads for the gateway.
    RecordingProtocol.writes.clear()
    async with serving(RecordingProtocol) as free:
        statuses, _ = await exchange(free, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK"]
    assert len(RecordingProtocol.writes) == 2
    for write, path in zip(RecordingProtocol.writes, (b"/a", b"/b"), strict=True):
        assert write.startswith(b"HTTP/1.1 200 OK\r\n") and write.endswith(b'"path": "%b"}' % path)


@contextlib.asynccontextmanager
async def recorded_connection() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A connection to a fresh RecordingProtocol server, its writes recorded from the start."""
    RecordingProtocol.writes.clear()
    async with serving(RecordingProtocol) as free:
        reader, writer = await asyncio.open_connection("127.0.0.1", free)
        try:
            yield reader, writer
        finally:
            writer.close()


async def test_a_head_whose_body_comes_later_is_not_held_for_it() -> None:
    async with recorded_connection() as (reader, writer):
        writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.2)  # the body waits 0.3 s
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 2.0) == b"5\r\nlater\r\n0\r\n\r\n"
    assert [w[:15] for w in RecordingProtocol.writes] == [b"HTTP/1.1 200 OK", b"5\r\nlater\r\n0\r\n\r\n"]


async def test_a_100_continue_goes_out_at_once_and_the_answer_after_it_in_one_write() -> None:
    async with recorded_connection() as (reader, writer):
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"{}")
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)).startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(RecordingProtocol.writes) == 2
    assert RecordingProtocol.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert RecordingProtocol.writes[1].startswith(b"HTTP/1.1 200 OK\r\n") and RecordingProtocol.writes[1].endswith(b"}")
