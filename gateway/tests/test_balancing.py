"""A service with several servers (replicas): the gateway takes them in turn, passes over one
that refuses connections, and sends an idempotent request that a dying server dropped to the
next one, while a POST that may have been applied is answered 502, never sent twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from tdc_gateway.app import Gateway
from tdc_gateway.table import RoutingTableError, load_table

from .conftest import JwksServer, closed_port_url, gateway_settings, running_gateway
from .test_upstream_client import RawUpstream


class DyingUpstream(RawUpstream):
    """Reads each request whole, then closes without a byte of answer: a replica killed mid-request."""

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, what: str, index: int) -> bool:
        return False


@contextlib.asynccontextmanager
async def serving(upstream: RawUpstream) -> AsyncIterator[RawUpstream]:
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    upstream.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield upstream
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def gateway_over(
    jwks_server: JwksServer, servers: list[str]
) -> AsyncIterator[tuple[Gateway, httpx2.AsyncClient]]:
    async with running_gateway(gateway_settings(jwks_server, {"catalog": servers})) as pair:  # type: ignore[dict-item]
        yield pair


async def test_requests_take_the_servers_in_turn(jwks_server: JwksServer) -> None:
    async with serving(RawUpstream()) as first, serving(RawUpstream()) as second:
        async with gateway_over(jwks_server, [first.url, second.url]) as (_, client):
            for _ in range(10):
                assert (await client.get("/api/v1/events/x")).status_code == 200
    assert len(first.requests) == 5 and len(second.requests) == 5


async def test_a_server_that_refuses_is_passed_over_for_any_method(jwks_server: JwksServer) -> None:
    async with serving(RawUpstream()) as alive:
        async with gateway_over(jwks_server, [closed_port_url(), alive.url]) as (gateway, client):
            answers = [await client.get("/api/v1/events/x") for _ in range(6)]
            # Nothing of a POST left the gateway when the connect was refused: the next server takes it.
            answers += [await client.post("/api/v1/events/x", json={"n": n}) for n in range(4)]
            assert [a.status_code for a in answers] == [200] * 10
            assert len(alive.requests) == 10
            assert gateway.fast is not None
            balancer = gateway.fast.get(gateway.table.servers()["catalog"])
            assert balancer is not None
            # Refused once, then sitting out: the dead server is not tried on every request.
            assert balancer.pick() is balancer.pools[1] and balancer.pick() is balancer.pools[1]


async def test_every_server_refusing_is_a_503_envelope(jwks_server: JwksServer) -> None:
    async with gateway_over(jwks_server, [closed_port_url(), closed_port_url()]) as (_, client):
        response = await client.get("/api/v1/events/x")
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert response.headers["retry-after"]


async def test_a_get_dropped_by_a_dying_server_is_answered_by_the_next(jwks_server: JwksServer) -> None:
    async with serving(DyingUpstream()) as dying, serving(RawUpstream()) as alive:
        async with gateway_over(jwks_server, [dying.url, alive.url]) as (_, client):
            answers = [await client.get("/api/v1/events/x") for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert len(alive.requests) == 4


async def test_a_post_dropped_by_a_dying_server_is_not_sent_again(jwks_server: JwksServer) -> None:
    async with serving(DyingUpstream()) as dying, serving(RawUpstream()) as alive:
        async with gateway_over(jwks_server, [dying.url, alive.url]) as (_, client):
            first = await client.post("/api/v1/events/x", json={"n": 1})  # to the dying server
            second = await client.post("/api/v1/events/x", json={"n": 2})  # its turn: the other one
    assert first.status_code == 502 and first.json()["success"] is False
    assert second.status_code == 200
    assert alive.bodies == [b'{"n":2}']
    assert dying.bodies == [b'{"n":1}']


async def test_readiness_says_partial_when_some_servers_are_down(jwks_server: JwksServer) -> None:
    async with serving(RawUpstream()) as alive:
        async with gateway_over(jwks_server, [alive.url, closed_port_url()]) as (_, client):
            ready = (await client.get("/readyz")).json()["data"]
    assert ready["upstreams"]["catalog"] == "partial"
    assert ready["status"] == "degraded"


def table_dir(tmp_path: Path, servers: str) -> Path:
    (tmp_path / "t.yml").write_text(
        f"""
http:
  routers:
    events:
      rule: "PathPrefix(`/api/v1/events`)"
      service: catalog
      middlewares: [policy-public]
  middlewares:
    policy-public:
      forwardAuth:
        address: "http://gateway:8000/_auth/public"
  services:
    catalog:
      loadBalancer:
        servers:
{servers}
"""
    )
    return tmp_path


def test_the_table_lists_every_server_of_a_service(tmp_path: Path) -> None:
    directory = table_dir(
        tmp_path, '          - url: "http://catalog-a:8000"\n          - url: "http://catalog-b:8000/"'
    )
    table = load_table(directory)
    assert table.servers() == {"catalog": ("http://catalog-a:8000", "http://catalog-b:8000")}
    overridden = load_table(directory, {"catalog": ["http://127.0.0.1:1", "http://127.0.0.1:2"]})
    assert overridden.servers()["catalog"] == ("http://127.0.0.1:1", "http://127.0.0.1:2")


@pytest.mark.parametrize(
    "servers",
    [
        '          - url: "http://a:8000/x"\n          - url: "http://b:8000/y"',  # two base paths
        '          - url: "http://a:8000"\n          - port: 8000',  # a server without a url
    ],
)
def test_servers_the_gateway_cannot_balance_are_refused_at_load(tmp_path: Path, servers: str) -> None:
    with pytest.raises(RoutingTableError, match="service catalog"):
        load_table(table_dir(tmp_path, servers))
