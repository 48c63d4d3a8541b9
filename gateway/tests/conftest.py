"""Fixtures: a gateway on a free port in front of upstream servers the tests run (real HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from aiohttp import web

from tdc_gateway.app import Gateway
from tdc_gateway.settings import DEFAULT_ROUTES_DIR, GatewaySettings
from tdc_shared.http_protocol import EnvelopeHttpProtocol
from tdc_shared.testing.keys import SigningKey, jwks

ORIGIN = "http://frontend.test"
# This run's own exchange and queues on the shared broker (token revocations reach the gateway there).
BUS_NAMESPACE = f"tdcgw{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, port: int | None = None) -> AsyncIterator[str]:
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        http=EnvelopeHttpProtocol,  # as the gateway runs in production
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"server did not start: {task.exception() if task.done() else 'timeout'}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serve_aiohttp(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Upstream:
    """A test service that records what reached it and can misbehave on request."""

    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    drop_next: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    slow: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v1/slow/{tail:.*}", self.slow_handler)
        app.router.add_route("*", "/api/v1/stream/{tail:.*}", self.stream_handler)
        app.router.add_route("*", "/{tail:.*}", self.echo)
        return app

    async def echo(self, request: web.Request) -> web.StreamResponse:
        if self.drop_next > 0:
            self.drop_next -= 1
            self.seen.append({"dropped": True, "method": request.method})
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        body = await request.read()
        record = {
            "method": request.method,
            "path": request.path_qs,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "header_list": list(request.headers.items()),
            "body_size": len(body),
            "chunked": request.headers.get("Transfer-Encoding", "").lower() == "chunked",
        }
        self.seen.append(record)
        payload = {k: v for k, v in record.items() if k != "header_list"}
        response = web.json_response({"success": True, "data": payload})
        response.headers["X-Request-Id"] = request.headers.get("X-Request-Id", "")
        response.headers["Set-Cookie"] = "a=1; Path=/"
        response.headers.add("Set-Cookie", "b=2; Path=/")
        return response

    async def slow_handler(self, request: web.Request) -> web.Response:
        await self.slow.wait()
        return web.json_response({"success": True, "data": "late"})

    async def stream_handler(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"first chunk\n")
        await self.release.wait()
        self.release.clear()
        await response.write(b"second chunk\n")
        await response.write_eof()
        return response


@dataclass
class JwksServer:
    keys: list[SigningKey]
    url: str = ""
    fetches: int = 0
    up: bool = True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/auth/jwks.json", self.handler)
        return app

    async def handler(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if not self.up:
            return web.json_response({"success": False, "error": "down"}, status=503)
        return web.json_response({"success": True, "data": jwks(*self.keys)})


@pytest.fixture(scope="session")
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream()
    async with serve_aiohttp(up.app()) as url:
        up.url = url
        yield up


@pytest.fixture(scope="session")
async def jwks_server(signing_key: SigningKey) -> AsyncIterator[JwksServer]:
    server = JwksServer([signing_key])
    async with serve_aiohttp(server.app()) as url:
        server.url = url
        yield server


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def gateway_settings(jwks_server: JwksServer, upstreams: dict[str, Any], **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "env": "test",
        "jwks_url": jwks_server.url + "/api/v1/auth/jwks.json",
        "gateway_upstreams": upstreams,
        "gateway_cors_origins": [ORIGIN],
        "gateway_openapi_cache_seconds": 0.0,
        "bus_namespace": BUS_NAMESPACE,
        **overrides,
    }
    return GatewaySettings(**values)


@contextlib.asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[tuple[Gateway, httpx2.AsyncClient]]:
    gateway = Gateway(settings)
    async with serve_asgi(gateway) as url, httpx2.AsyncClient(base_url=url, timeout=10) as client:
        yield gateway, client


@pytest.fixture(scope="session")
async def gateway(upstream: Upstream, jwks_server: JwksServer) -> AsyncIterator[tuple[Gateway, httpx2.AsyncClient]]:
    """The repository's routing table; every service is the echo upstream except blog (down)."""
    down = closed_port_url()
    upstreams = {name: upstream.url for name in ("auth", "catalog", "membership", "notification", "integration")}
    upstreams["blog"] = down
    async with running_gateway(gateway_settings(jwks_server, upstreams)) as pair:
        yield pair


@pytest.fixture
def routes_dir(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], None]], Path]:
    """A copy of the repository's table, edited by the test (as parsed YAML) and saved as JSON-in-YAML."""

    def make(edit: Callable[[dict[str, Any]], None]) -> Path:
        import yaml

        target = tmp_path / "dynamic"
        shutil.copytree(DEFAULT_ROUTES_DIR, target)
        merged: dict[str, Any] = {}
        for path in sorted(target.glob("*.yml")):
            merged[path.name] = yaml.safe_load(path.read_text())
        edit(merged)
        for name, document in merged.items():
            (target / name).write_text(json.dumps(document))
        return target

    return make
