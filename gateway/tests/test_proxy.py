"""Forwarding: routing by longest prefix, headers, bodies, failures, retries."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import httpx2

from tdc_shared.testing.keys import SigningKey

from .conftest import Upstream, closed_port_url, gateway_settings, running_gateway


async def raw_request(client: httpx2.AsyncClient, head: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(client.base_url.host, client.base_url.port)
    writer.write(f"{head}\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head_part, _, body = raw.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), body


async def test_unknown_path_is_a_404_envelope(gateway: Any) -> None:
    _, client = gateway
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Not found"}
    assert response.headers["x-request-id"]


async def test_dot_segments_are_refused(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    before = len(upstream.seen)
    for path in ("/api/v1/events/../admin/users", "/api/v1/events/%2e%2e/admin/users", "/api/v1/events/./x"):
        status, body = await raw_request(client, f"GET {path} HTTP/1.1")
        assert status == 400, path
        assert json.loads(body) == {"success": False, "error": "Invalid path"}
    assert len(upstream.seen) == before
    assert (await client.get("/api/v1/events/.well-known")).status_code == 200


async def test_paths_are_forwarded_unchanged_with_query(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    response = await client.get("/api/v1/events/some-slug?lang=it&page=2")
    assert response.status_code == 200
    assert response.json()["data"]["path"] == "/api/v1/events/some-slug?lang=it&page=2"


async def test_longest_prefix_wins(gateway: Any, signing_key: SigningKey) -> None:
    gw, _ = gateway
    assert gw.table.match("/api/v1/user/membership").service == "membership"
    assert gw.table.match("/api/v1/user/notifications/prefs").service == "notification"
    assert gw.table.match("/api/v1/user/profile").service == "auth"
    assert gw.table.match("/api/v1/admin/media/12").router == "admin-media"
    assert gw.table.match("/api/v1/admin/blog/posts").service == "blog"
    assert gw.table.match("/api/v1/admin/users").service == "auth"
    assert gw.table.match("/api/v1/calendar.ics").service == "catalog"
    assert gw.table.match("/api/v1/calendar.icsx") is None


async def test_forwarded_headers_and_request_id(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    response = await client.get(
        "/api/v1/events",
        headers={
            "X-Request-Id": "abc-123",
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Host": "evil.example",
            "Connection": "keep-alive, X-Custom-Hop",
            "Accept": "application/json",
            "X-Custom-Hop": "1",
        },
    )
    assert response.status_code == 200
    seen = upstream.seen[-1]["headers"]
    assert seen["x-request-id"] == "abc-123"
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers.get_list("x-request-id") == ["abc-123"]
    assert seen["x-forwarded-for"] == "127.0.0.1"  # a client's own value is not trusted
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == client.base_url.netloc.decode()
    assert seen["accept"] == "application/json"
    assert "x-custom-hop" not in seen
    assert seen["accept-encoding"] == response.request.headers["accept-encoding"]
    # Several Set-Cookie headers come back separately.
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("server")) <= 1


async def test_no_headers_are_added_that_the_client_did_not_send(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    status, _ = await raw_request(client, "GET /api/v1/events HTTP/1.1")
    assert status == 200
    seen = upstream.seen[-1]["headers"]
    # An Accept-Encoding added on the way would get the client a compressed body it cannot read.
    assert "accept-encoding" not in seen
    assert "user-agent" not in seen
    assert "content-type" not in seen


async def test_invalid_request_id_is_replaced(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    response = await client.get("/api/v1/events", headers={"X-Request-Id": "bad id\twith junk" * 20})
    rid = response.headers["x-request-id"]
    assert rid != "bad id"
    assert upstream.seen[-1]["headers"]["x-request-id"] == rid


async def test_identity_headers_from_clients_are_stripped(
    gateway: Any, upstream: Upstream, signing_key: SigningKey
) -> None:
    _, client = gateway
    forged = {
        "X-User-Id": "1",
        "X-User-Role": "admin",
        "X-User-Patreon-Tier": "gold",
        "X-User-Patreon-Cents": "99999",
        "X-User-Email": "x@y",
    }
    response = await client.get("/api/v1/events", headers=forged)
    assert response.status_code == 200
    names = {name.lower() for name, _ in upstream.seen[-1]["header_list"]}
    assert not {n for n in names if n.startswith("x-user-")}

    token = signing_key.token(sub=42, role="staff", patreon_tier="silver", patreon_cents=500)
    response = await client.get("/api/v1/user/profile", headers={**forged, "Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    pairs = [(n.lower(), v) for n, v in upstream.seen[-1]["header_list"] if n.lower().startswith("x-user-")]
    assert sorted(pairs) == [
        ("x-user-id", "42"),
        ("x-user-patreon-cents", "500"),
        ("x-user-patreon-tier", "silver"),
        ("x-user-role", "staff"),
    ]


async def test_down_service_is_a_503_envelope(gateway: Any) -> None:
    gw, client = gateway
    # "Within a second" is configuration, not a stopwatch: the dial timeout bounds the wait.
    assert gw.table.match("/api/v1/blog/posts").connect_timeout <= 1.0
    response = await client.get("/api/v1/blog/posts")
    assert response.status_code == 503
    assert response.json() == {"success": False, "error": "Service temporarily unavailable"}
    assert response.headers["retry-after"] == "5"


async def test_slow_route_answers_504(jwks_server: Any, upstream: Upstream, routes_dir: Any) -> None:
    def slow_route(docs: dict[str, Any]) -> None:
        http = docs["services.yml"]["http"]
        http["serversTransports"]["quick"] = {"forwardingTimeouts": {"responseHeaderTimeout": "200ms"}}
        http["services"]["slow"] = {
            "loadBalancer": {"servers": [{"url": "http://slow:8000"}], "serversTransport": "quick"}
        }
        docs["routers.yml"]["http"]["routers"]["slow"] = {
            "rule": "PathPrefix(`/api/v1/slow`)",
            "service": "slow",
            "middlewares": ["edge", "policy-public"],
        }

    settings = gateway_settings(jwks_server, {"slow": upstream.url}, gateway_routes_dir=routes_dir(slow_route))
    async with running_gateway(settings) as (_, client):
        response = await client.get("/api/v1/slow/report")
        upstream.slow.set()
    upstream.slow.clear()
    assert response.status_code == 504
    assert response.json() == {"success": False, "error": "Upstream service timed out"}


async def test_request_body_over_the_limit_is_413(jwks_server: Any, upstream: Upstream) -> None:
    settings = gateway_settings(jwks_server, {"catalog": upstream.url}, gateway_max_body_bytes=1024 * 1024)
    async with running_gateway(settings) as (_, client):
        before = len(upstream.seen)
        response = await client.post("/api/v1/events", content=b"x" * (1024 * 1024 + 1))
        assert response.status_code == 413
        assert response.json() == {"success": False, "error": "Request body too large"}

        async def chunks() -> Any:
            for _ in range(40):
                yield b"y" * 65536

        response = await client.post("/api/v1/events", content=chunks())
        assert response.status_code == 413
        assert len(upstream.seen) == before

        async def fine() -> Any:
            for _ in range(15):
                yield b"z" * 65536

        response = await client.put("/api/v1/events/1", content=fine())
        assert response.status_code == 200
        assert upstream.seen[-1]["body_size"] == 15 * 65536
        assert upstream.seen[-1]["chunked"]  # streamed on, not buffered into one body

        response = await client.post("/api/v1/events", content=b"a" * 1000)
        assert response.status_code == 200
        assert upstream.seen[-1]["body_size"] == 1000


async def test_default_upload_limit_is_20_mb(gateway: Any) -> None:
    gw, client = gateway
    assert gw.table.match("/api/v1/admin/media").max_body == 20 * 1024 * 1024
    assert gw.table.match("/api/v1/events").max_body == 20 * 1024 * 1024
    # Refused on the declared length, before a byte of the body is read.
    status, body = await raw_request(client, f"POST /api/v1/events HTTP/1.1\r\nContent-Length: {20 * 1024 * 1024 + 1}")
    assert status == 413
    assert json.loads(body) == {"success": False, "error": "Request body too large"}


async def test_streaming_reaches_the_client_before_the_upstream_finishes(
    jwks_server: Any, upstream: Upstream, routes_dir: Any
) -> None:
    def stream_route(docs: dict[str, Any]) -> None:
        docs["routers.yml"]["http"]["routers"]["stream"] = {
            "rule": "PathPrefix(`/api/v1/stream`)",
            "service": "catalog",
            "middlewares": ["edge", "policy-public"],
        }

    settings = gateway_settings(jwks_server, {"catalog": upstream.url}, gateway_routes_dir=routes_dir(stream_route))
    async with running_gateway(settings) as (_, client):
        async with client.stream("GET", "/api/v1/stream/feed") as response:
            assert response.status_code == 200
            chunks = response.aiter_raw()
            first = await anext(chunks)
            assert first == b"first chunk\n"  # while the upstream still holds the rest
            upstream.release.set()
            rest = b"".join([chunk async for chunk in chunks])
        assert rest == b"second chunk\n"


async def test_idempotent_requests_are_retried_others_are_not(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    upstream.drop_next = 1
    before = len(upstream.seen)
    response = await client.get("/api/v1/events")
    assert response.status_code == 200
    assert [r.get("dropped", False) for r in upstream.seen[before:]] == [True, False]

    upstream.drop_next = 1
    before = len(upstream.seen)
    response = await client.post("/api/v1/events", json={"name": "x"})
    assert response.status_code == 502
    assert response.json() == {"success": False, "error": "Bad gateway: the upstream service failed to answer"}
    assert [r.get("dropped", False) for r in upstream.seen[before:]] == [True]
    upstream.drop_next = 0


async def test_missing_host_is_a_503(jwks_server: Any) -> None:
    settings = gateway_settings(jwks_server, {"catalog": closed_port_url()})
    async with running_gateway(settings) as (_, client):
        response = await client.get("/api/v1/events")
        assert response.status_code == 503


async def test_healthz_and_readyz(gateway: Any) -> None:
    _, client = gateway
    assert (await client.get("/healthz")).json() == {"success": True, "data": {"status": "ok"}}
    ready = (await client.get("/readyz")).json()["data"]
    assert ready["status"] == "degraded"
    assert ready["upstreams"]["blog"] == "down"
    assert ready["upstreams"]["catalog"] == "up"


async def test_head_and_no_content(gateway: Any) -> None:
    _, client = gateway
    response = await client.head("/api/v1/events")
    assert response.status_code == 200
    assert response.content == b""


async def test_client_sends_to_closed_upstream_with_post_gets_503(gateway: Any) -> None:
    _, client = gateway
    response = await client.post("/api/v1/blog/posts", json={})
    assert response.status_code == 503


async def test_a_bug_in_the_proxy_still_answers_in_the_envelope(jwks_server: Any, upstream: Upstream) -> None:
    async with running_gateway(gateway_settings(jwks_server, {"catalog": upstream.url})) as (gateway, client):

        async def broken(*args: Any) -> int:
            raise KeyError("a bug")

        assert gateway.proxy is not None
        gateway.proxy._forward = broken  # type: ignore[method-assign]
        response = await client.get("/api/v1/events", headers={"X-Request-Id": "bug-1"})
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error"}
    assert response.headers["x-request-id"] == "bug-1"


async def test_proxied_requests_leave_no_garbage_cycles(gateway: Any, signing_key: SigningKey) -> None:
    # What a request leaves in a reference cycle waits for the collector, and its passes (milliseconds
    # each at thousands of requests a second) land on the requests in flight as p99.
    _, client = gateway
    bearer = {"Authorization": f"Bearer {signing_key.token(sub=7, role='user')}"}
    for _ in range(3):  # connections, the token cache
        await client.get("/api/v1/events")
        await client.get("/api/v1/user/profile", headers=bearer)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(50):
            assert (await client.get("/api/v1/events")).status_code == 200
            assert (await client.get("/api/v1/user/profile", headers=bearer)).status_code == 200
        gc.collect()
        # The test's own client and upstream may leave cycles; the gateway's objects must not be among them.
        ours = sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith(("tdc_", "uvicorn"))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []
