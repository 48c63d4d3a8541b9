"""CORS for the frontend origins, and the per-client rate limit on the auth routes."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ORIGIN, Upstream, gateway_settings, running_gateway


async def test_preflight_from_an_allowed_origin(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    before = len(upstream.seen)
    response = await client.options(
        "/api/v1/user/profile",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert len(upstream.seen) == before  # answered by the gateway, no token needed


async def test_preflight_from_another_origin_is_refused(gateway: Any) -> None:
    _, client = gateway
    response = await client.options(
        "/api/v1/events", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "Origin not allowed"}
    assert "access-control-allow-origin" not in response.headers


async def test_cors_headers_on_answers_and_errors(gateway: Any) -> None:
    _, client = gateway
    response = await client.get("/api/v1/events", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "X-Request-Id" in response.headers["access-control-expose-headers"]
    response = await client.get("/api/v1/user/profile", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN  # the frontend can read the error
    response = await client.get("/api/v1/events", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


# A proxy named by its address (Traefik beside the gateway) or by its network (an Ingress
# controller whose pod address changes): either way its X-Forwarded-For names the client.
@pytest.mark.parametrize("trusted", ["127.0.0.1", "127.0.0.0/8"])
async def test_auth_routes_are_rate_limited_per_client(
    jwks_server: Any, upstream: Upstream, routes_dir: Any, trusted: str
) -> None:
    def tight(docs: dict[str, Any]) -> None:
        docs["middlewares.yml"]["http"]["middlewares"]["rate-limit-auth"]["rateLimit"] = {
            "average": 3,
            "period": "1m",
            "burst": 3,
        }

    settings = gateway_settings(
        jwks_server,
        {"auth": upstream.url, "catalog": upstream.url},
        gateway_routes_dir=routes_dir(tight),
        gateway_trusted_proxies=[trusted],
    )
    async with running_gateway(settings) as (gw, client):
        assert gw.table.match("/api/v1/auth/login").rate_limit.amount == 3
        for _ in range(3):
            assert (await client.post("/api/v1/auth/login", json={})).status_code == 200
        response = await client.post("/api/v1/auth/login", json={})
        assert response.status_code == 429
        assert response.json() == {"success": False, "error": "Too many requests"}
        assert 1 <= int(response.headers["retry-after"]) <= 60
        # Other routes and other clients are not affected.
        assert (await client.get("/api/v1/events")).status_code == 200
        other = {"X-Forwarded-For": "203.0.113.9"}  # through a trusted proxy
        assert (await client.post("/api/v1/auth/login", json={}, headers=other)).status_code == 200
        assert upstream.seen[-1]["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


async def test_default_auth_rate_limit_is_generous(gateway: Any) -> None:
    gw, _ = gateway
    limit = gw.table.match("/api/v1/auth/login").rate_limit
    assert limit is not None and limit.amount == 60 and limit.window_seconds == 6
    assert gw.table.match("/api/v1/events").rate_limit is None


def test_a_trusted_proxy_must_be_an_address_or_a_network(jwks_server: Any) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IP address or network"):
        gateway_settings(jwks_server, {}, gateway_trusted_proxies=["traefik.local"])


def test_the_gateway_needs_no_database_account_in_production(jwks_server: Any) -> None:
    """Production refuses development defaults, but the gateway has no database to point at."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"TDC_AMQP_URL still hold") as refused:
        gateway_settings(jwks_server, {}, env="prod")
    assert "TDC_MYSQL_URL" not in str(refused.value)
    settings = gateway_settings(jwks_server, {}, env="prod", amqp_url="amqp://tdc:secret@rabbitmq:5672/")
    assert settings.env == "prod"
