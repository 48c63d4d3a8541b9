"""The gateway's own keep-alive client (upstream.py, fast.py) against an upstream written on
raw asyncio streams, so each test decides which bytes go out and when a connection ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from tdc_gateway.app import Gateway
from tdc_gateway.fast import request_head
from tdc_gateway.upstream import ConnectFailed, UpstreamPool

from .conftest import JwksServer, closed_port_url, gateway_settings, running_gateway

OK_BODY = b'{"success":true,"data":"ok"}'


@dataclass
class RawUpstream:
    """Answers by the last path segment; records (method, path, connection number, index on it)."""

    url: str = ""
    connections: int = 0
    requests: list[tuple[str, str, int, int]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        index = 0
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                lines = head.split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = dict((k.strip().lower(), v.strip()) for k, v in (x.split(":", 1) for x in lines[1:] if x))
                if headers.get("transfer-encoding") == "chunked":
                    body = b""
                    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                        body += (await reader.readexactly(size + 2))[:-2]
                    await reader.readuntil(b"\r\n")
                    self.bodies.append(body)
                else:
                    self.bodies.append(await reader.readexactly(int(headers.get("content-length", "0"))))
                self.requests.append((method, target, number, index))
                if method == "HEAD":
                    # The head a GET would get, its Content-Length included, and no body.
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(OK_BODY))
                    index += 1
                    continue
                if not await self.answer(reader, writer, target.rsplit("/", 1)[-1], index):
                    break
                index += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, what: str, index: int) -> bool:
        if what == "drop-when-reused" and index > 0:
            return False  # read the request, close without a byte of answer
        if what == "chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            return True
        if what == "big":
            body = bytes(range(256)) * 1200  # 300 KiB: above the one-message size
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return True
        if what == "until-close":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
            await writer.drain()
            return False
        if what == "stall-body":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            await reader.read()  # until the gateway gives up on us
            return False
        if what == "garbage":
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            return False
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(OK_BODY))
        writer.write(b"Date: x\r\nServer: raw\r\n\r\n" + OK_BODY)
        # "close-after" ends the connection after its answer without saying so, as an
        # upstream's idle timeout does.
        return what != "close-after"


@contextlib.asynccontextmanager
async def through_gateway(
    jwks_server: JwksServer, **overrides: Any
) -> AsyncIterator[tuple[RawUpstream, Gateway, httpx2.AsyncClient]]:
    upstream = RawUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    upstream.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        settings = gateway_settings(jwks_server, {"catalog": upstream.url}, **overrides)
        async with running_gateway(settings) as (gateway, client):
            yield upstream, gateway, client
    finally:
        server.close()
        await server.wait_closed()


def pool_of(gateway: Gateway, upstream: RawUpstream) -> UpstreamPool:
    assert gateway.fast is not None
    found = gateway.fast.get((upstream.url,))
    assert found is not None
    return found.pools[0]


async def test_keep_alive_connection_is_reused(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server) as (upstream, _, client):
        for _ in range(3):
            response = await client.get("/api/v1/events/x")
            assert response.status_code == 200
            assert response.content == OK_BODY
            assert response.headers["server"] != "raw"  # the upstream's date/server are not repeated
        assert upstream.connections == 1
        assert [r[3] for r in upstream.requests] == [0, 1, 2]


async def test_head_then_get_share_one_connection(jwks_server: JwksServer) -> None:
    """HEAD goes over the same client: its answer has a Content-Length and no body, and the
    connection still carries the next exchange."""
    async with through_gateway(jwks_server) as (upstream, _, client):
        head = await client.head("/api/v1/events/x")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(OK_BODY))
        got = await client.get("/api/v1/events/x")
        assert got.status_code == 200 and got.content == OK_BODY
        again = await client.head("/api/v1/events/x")
        assert again.status_code == 200 and again.content == b""
        assert upstream.connections == 1
        assert [(r[0], r[3]) for r in upstream.requests] == [("HEAD", 0), ("GET", 1), ("HEAD", 2)]


async def test_streamed_upload_goes_over_the_same_pool(jwks_server: JwksServer) -> None:
    """A body of unknown length is sent chunked on a pooled connection, not on a second client."""
    async with through_gateway(jwks_server) as (upstream, gateway, client):
        assert (await client.get("/api/v1/events/x")).status_code == 200

        async def pieces() -> Any:
            for _ in range(3):
                yield b"piece"

        response = await client.post("/api/v1/events/x", content=pieces())
        assert response.status_code == 200 and response.content == OK_BODY
        assert upstream.bodies[-1] == b"piece" * 3
        assert (await client.get("/api/v1/events/x")).status_code == 200  # and the connection lives on
        assert upstream.connections == 1
        assert pool_of(gateway, upstream).open == 1


async def test_connection_closed_while_idle_is_not_used(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server) as (upstream, gateway, client):
        assert (await client.get("/api/v1/events/close-after")).status_code == 200
        pool = pool_of(gateway, upstream)
        for _ in range(200):  # bounded: the close reaches the gateway's loop within a few turns
            if not pool.idle:
                break
            await asyncio.sleep(0.005)
        assert not pool.idle
        response = await client.post("/api/v1/events/x", json={"name": "x"})
        assert response.status_code == 200
        assert upstream.connections == 2


async def test_reused_connection_dropped_without_answer_is_replayed_for_get_only(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server) as (upstream, _, client):
        assert (await client.get("/api/v1/events/x")).status_code == 200
        response = await client.get("/api/v1/events/drop-when-reused")
        assert response.status_code == 200
        assert [r[2:] for r in upstream.requests[1:]] == [(1, 1), (2, 0)]  # same request, new connection

        before = len(upstream.requests)
        response = await client.post("/api/v1/events/drop-when-reused", json={})
        assert response.status_code == 502
        assert response.json() == {"success": False, "error": "Bad gateway: the upstream service failed to answer"}
        assert [r[0] for r in upstream.requests[before:]] == ["POST"]  # may have been applied: never sent twice


async def test_chunked_response_is_sent_whole_with_a_length(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server) as (upstream, _, client):
        response = await client.get("/api/v1/events/chunked")
        assert response.status_code == 200
        assert response.content == b"hello world"
        assert response.headers["content-length"] == "11"
        assert "transfer-encoding" not in response.headers
        assert (await client.get("/api/v1/events/x")).status_code == 200
        assert upstream.connections == 1  # the chunked answer ended cleanly: connection kept


async def test_large_and_close_delimited_responses(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server) as (_, _, client):
        response = await client.get("/api/v1/events/big")
        assert response.status_code == 200
        assert response.content == bytes(range(256)) * 1200
        response = await client.get("/api/v1/events/until-close")
        assert response.status_code == 200
        assert response.content == b"all of it"


async def test_body_that_stops_coming_is_a_504(jwks_server: JwksServer, routes_dir: Any) -> None:
    def quick(docs: dict[str, Any]) -> None:
        http = docs["services.yml"]["http"]
        http["serversTransports"]["quick"] = {"forwardingTimeouts": {"responseHeaderTimeout": "200ms"}}
        http["services"]["catalog"]["loadBalancer"]["serversTransport"] = "quick"

    async with through_gateway(jwks_server, gateway_routes_dir=routes_dir(quick)) as (upstream, _, client):
        response = await client.get("/api/v1/events/stall-body")
        assert response.status_code == 504
        assert response.json() == {"success": False, "error": "Upstream service timed out"}
        assert (await client.get("/api/v1/events/x")).status_code == 200
        assert upstream.connections == 2  # the stalled connection was not put back


async def test_invalid_response_is_a_502(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server) as (_, _, client):
        response = await client.get("/api/v1/events/garbage")
        assert response.status_code == 502


async def test_connection_cap_makes_requests_wait_for_a_free_connection(jwks_server: JwksServer) -> None:
    async with through_gateway(jwks_server, gateway_upstream_connections_per_host=1) as (upstream, _, client):
        responses = await asyncio.gather(*(client.get("/api/v1/events/x") for _ in range(4)))
        assert [r.status_code for r in responses] == [200] * 4
        assert upstream.connections == 1


async def test_refused_connection() -> None:
    host, port = closed_port_url().removeprefix("http://").split(":")
    pool = UpstreamPool(host, int(port), keepalive=4.0, limit=0)
    with pytest.raises(ConnectFailed):
        await pool.get(1.0)
    assert pool.open == 0


def test_header_values_cannot_add_lines() -> None:
    head = request_head("GET", "/api/v1/x?a=1", "up:80", [("X-User-Id", "7")], None)
    assert head == b"GET /api/v1/x?a=1 HTTP/1.1\r\nHost: up:80\r\nX-User-Id: 7\r\n\r\n"
    assert request_head("POST", "/p", "up", [], None).endswith(b"Content-Length: 0\r\n\r\n")
    assert request_head("POST", "/p", "up", [], b"abc").endswith(b"Content-Length: 3\r\n\r\n")
    for bad in ("7\r\nX-User-Role: admin", "7\nX-User-Role: admin", "7\r"):
        with pytest.raises(ValueError):
            request_head("GET", "/", "up", [("X-User-Id", bad)], None)
