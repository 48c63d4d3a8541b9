"""Who the client is: X-Forwarded-For only from trusted proxies, over a real socket under uvicorn.

uvicorn's own proxy-header handling (on by default) rewrites the client from any loopback
caller's header; EnvelopeHttpProtocol keeps the TCP peer so ForwardedClientMiddleware decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn

from tdc_shared.http_protocol import EnvelopeHttpProtocol
from tdc_shared.observability import ForwardedClientMiddleware, TrustedProxies


async def whoami(scope, receive, send):  # type: ignore[no-untyped-def]
    body = json.dumps({"client": scope["client"][0]}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]}
    )
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving(proxies: list[str]) -> AsyncIterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = ForwardedClientMiddleware(whoami, TrustedProxies(proxies))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=EnvelopeHttpProtocol, lifespan="off", log_level="error"
    )
    assert config.proxy_headers  # uvicorn's default, which trusts 127.0.0.1
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def client_seen(port: int, forwarded: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {forwarded}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return json.loads(data.partition(b"\r\n\r\n")[2])["client"]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "seen"),
    [
        ([], "203.0.113.9", "127.0.0.1"),  # a direct caller on loopback is not a proxy
        (["127.0.0.2"], "203.0.113.9", "127.0.0.1"),  # only the gateway's own address is
        (["127.0.0.1"], "203.0.113.9", "203.0.113.9"),
        (["127.0.0.1"], "9" * 60, "127.0.0.1"),  # not an address: never stored, never keyed on
        (["127.0.0.1"], "198.51.100.1, 2001:db8::7", "2001:db8::7"),
    ],
)
async def test_forwarded_for_is_believed_only_from_trusted_proxies(proxies: list[str], forwarded: str, seen: str):
    async with serving(proxies) as port:
        assert await client_seen(port, forwarded) == seen
