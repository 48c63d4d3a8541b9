"""The Patreon standing in access tokens: membership's events reach auth, and the next token carries it."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import TYPE_CHECKING, Any

import aio_pika
import httpx2
import pytest

from tdc_shared.events import Event

if TYPE_CHECKING:
    from conftest import BusListener, RunningStack

pytestmark = pytest.mark.e2e

PASSWORD = "night owls at the cave"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def publish(stack: RunningStack, event_type: str, data: dict[str, Any]) -> None:
    connection = await aio_pika.connect(stack.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{stack.namespace}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        event = Event(type=event_type, source="membership", data=data)
        await exchange.publish(
            aio_pika.Message(event.to_json().encode(), message_id=str(event.id), delivery_mode=2),
            routing_key=event_type,
        )


async def test_a_supporter_gets_the_tier_in_the_next_token_and_loses_it_after(
    stack: RunningStack, api: httpx2.AsyncClient, bus: BusListener
):
    email = f"patron-{uuid.uuid4().hex[:10]}@example.com"
    registered = await api.post(
        "/api/v1/auth/register", json={"email": email, "username": f"p_{uuid.uuid4().hex[:10]}", "password": PASSWORD}
    )
    assert registered.status_code == 202
    user_id = (await bus.expect("auth.user.registered", email=email))["data"]["user_id"]
    login = await api.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    session = login.json()["data"]
    assert "patreon_cents" not in claims_of(session["access_token"])

    async def next_claims() -> dict[str, Any]:
        response = await api.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert response.status_code == 200, response.text
        session.update(response.json()["data"])
        return claims_of(session["access_token"])

    standing = {"user_id": user_id, "patreon_user_id": "p-9", "tier_id": "t-gold", "amount_cents": 500}
    await publish(stack, "membership.supporter.activated", {**standing, "patron_status": "active_patron"})
    for _ in range(200):  # bounded: until auth's consumer has committed it
        claims = await next_claims()
        if "patreon_cents" in claims:
            break
        await asyncio.sleep(0.05)
    assert (claims["patreon_tier"], claims["patreon_cents"]) == ("t-gold", 500)

    await publish(stack, "membership.supporter.deactivated", {**standing, "patron_status": "former_patron"})
    for _ in range(200):
        claims = await next_claims()
        if "patreon_cents" not in claims:
            break
        await asyncio.sleep(0.05)
    assert "patreon_tier" not in claims and "patreon_cents" not in claims
