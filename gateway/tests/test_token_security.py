"""Tokens at the gateway: forged headers, revocations from the broker, and metrics off the public port."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from typing import Any

import aio_pika

from tdc_shared.events import Event
from tdc_shared.testing.keys import SigningKey

from .conftest import BUS_NAMESPACE, JwksServer, Upstream, free_port, gateway_settings, running_gateway


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_es256(key: SigningKey) -> str:
    """The header names the real RSA key but says ES256; the payload is anything."""
    header = _b64({"alg": "ES256", "typ": "JWT", "kid": key.kid})
    return f"{header}.{_b64(key.claims(sub=1, role='admin'))}.{_b64({'x': 1})}"


async def test_a_forged_alg_is_401_on_protected_and_anonymous_on_public_routes(
    gateway: Any, signing_key: SigningKey, upstream: Upstream
) -> None:
    _, client = gateway
    headers = {"Authorization": f"Bearer {forged_es256(signing_key)}"}
    response = await client.get("/api/v1/admin/users", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Token algorithm does not match its key"}
    response = await client.get("/api/v1/events", headers=headers)
    assert response.status_code == 200
    assert "x-user-id" not in upstream.seen[-1]["headers"]


async def publish_revocation(amqp_url: str, data: dict[str, Any]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{BUS_NAMESPACE}.events", aio_pika.ExchangeType.TOPIC, durable=True)
        event = Event(type="auth.tokens.revoked", source="auth", data=data)
        await exchange.publish(aio_pika.Message(event.to_json().encode()), routing_key=event.type)


async def wait_for_status(client: Any, path: str, token: str, status: int) -> None:
    for _ in range(200):  # bounded: 10 s at most
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never answered {status}")


async def test_revoked_tokens_are_refused_even_when_cached(
    jwks_server: JwksServer, upstream: Upstream, signing_key: SigningKey, amqp_url: str
) -> None:
    settings = gateway_settings(jwks_server, {"auth": upstream.url, "catalog": upstream.url}, amqp_url=amqp_url)
    async with running_gateway(settings) as (gateway, client):
        assert gateway.revocations is not None
        await asyncio.wait_for(gateway.revocations.link.ready.wait(), 10)
        now = int(time.time())
        session_token = signing_key.token(sub=41, role="staff", sid="s" * 32)
        old_token = signing_key.token(sub=42, role="staff", iat=now - 5)
        for token in (session_token, old_token):  # both verified once: now in the token cache
            assert (
                await client.get("/api/v1/admin/events", headers={"Authorization": f"Bearer {token}"})
            ).status_code == 200
        await publish_revocation(amqp_url, {"user_id": 41, "session_id": "s" * 32, "not_before": None})
        await publish_revocation(amqp_url, {"user_id": 42, "session_id": None, "not_before": now})
        await wait_for_status(client, "/api/v1/admin/events", session_token, 401)
        await wait_for_status(client, "/api/v1/admin/events", old_token, 401)
        response = await client.get("/api/v1/admin/events", headers={"Authorization": f"Bearer {old_token}"})
        assert response.json() == {"success": False, "error": "Token has been revoked"}
        # A public route treats it as no identity; a token issued after the revocation passes.
        assert (await client.get("/api/v1/events", headers={"Authorization": f"Bearer {old_token}"})).status_code == 200
        assert "x-user-id" not in upstream.seen[-1]["headers"]
        fresh = signing_key.token(sub=42, role="staff", iat=now)
        assert (
            await client.get("/api/v1/admin/events", headers={"Authorization": f"Bearer {fresh}"})
        ).status_code == 200


async def test_metrics_are_on_the_internal_port_only(jwks_server: JwksServer, upstream: Upstream) -> None:
    port = free_port()
    settings = gateway_settings(jwks_server, {"catalog": upstream.url}, metrics_port=port)
    async with running_gateway(settings) as (_, client):
        await client.get("/api/v1/events")
        public = await client.get("/metrics")
        assert public.status_code == 404 and public.json()["success"] is False
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "gateway_requests_total" in text
