"""Membership's supporter events reach the user's next access token (issue 14, auth's side)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx2
import jwt
from auth_testkit import Accounts
from conftest import BASE_URL, make_settings, random_client_ip

from tdc_auth.handlers import handlers
from tdc_auth.main import create_app
from tdc_shared.events import Event
from tdc_shared.testing.bus import delete_namespace


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def supporter_event(kind: str, user_id: int | None, tier: Any = "t-gold", cents: int = 500, **extra: Any) -> Event:
    data = {
        "user_id": user_id,
        "patreon_user_id": "p-123",
        "tier_id": tier,
        "amount_cents": cents,
        "patron_status": "active_patron" if kind != "deactivated" else "former_patron",
    }
    return Event(type=f"membership.supporter.{kind}", source="membership", data=data, **extra)


async def handle(app, event: Event) -> None:  # type: ignore[no-untyped-def]
    async with app.state.db.transaction() as tx:
        for handler in handlers.handlers_for(event.type):
            await handler(tx, event)


async def refreshed(client: httpx2.AsyncClient, session: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert response.status_code == 200, response.text
    session.update(response.json()["data"])
    return claims_of(session["access_token"])


async def test_the_tier_follows_the_standing_into_the_next_token(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    user_id = me["user"]["id"]
    assert "patreon_tier" not in claims_of(me["access_token"]) and "patreon_cents" not in claims_of(me["access_token"])

    await handle(accounts.app, supporter_event("activated", user_id, tier=1234, cents=500))
    claims = await refreshed(client, me)
    assert (claims["patreon_tier"], claims["patreon_cents"]) == ("1234", 500)
    # A new sign-in carries it too, and the shared verifier reads it.
    login = await accounts.login(me["email"], me["password"])
    verified = await accounts.app.state.verifier.verify(login["access_token"])
    assert (verified.patreon_tier, verified.patreon_cents) == ("1234", 500)

    await handle(accounts.app, supporter_event("tier_changed", user_id, tier="t-silver", cents=300))
    claims = await refreshed(client, me)
    assert (claims["patreon_tier"], claims["patreon_cents"]) == ("t-silver", 300)

    await handle(accounts.app, supporter_event("deactivated", user_id, tier="t-silver", cents=300))
    claims = await refreshed(client, me)
    assert "patreon_tier" not in claims and "patreon_cents" not in claims


async def test_unlinked_malformed_and_late_events_change_nothing(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    user_id = me["user"]["id"]
    await handle(accounts.app, supporter_event("activated", None))  # a Patreon member without an account
    await handle(accounts.app, supporter_event("activated", user_id, cents=-5))
    await handle(accounts.app, supporter_event("activated", user_id, tier=None))
    assert "patreon_cents" not in await refreshed(client, me)

    now = datetime.now(UTC)
    await handle(accounts.app, supporter_event("activated", user_id, cents=800, occurred_at=now))
    # An older deactivation delivered late does not undo the newer activation.
    await handle(accounts.app, supporter_event("deactivated", user_id, occurred_at=now - timedelta(minutes=5)))
    assert (await refreshed(client, me))["patreon_cents"] == 800


async def test_supporter_events_arrive_through_the_broker_and_the_inbox(
    mysql_url: str, db_prefix: str, keys_dir, oauth_provider, amqp_url: str
):
    namespace = f"authpt{uuid.uuid4().hex[:10]}"
    settings = make_settings(mysql_url, db_prefix, keys_dir, oauth_provider, amqp_url=amqp_url, bus_namespace=namespace)
    app = create_app(settings, bus=True)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.event_bus.wait_ready(), 20)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport, base_url=BASE_URL, headers={"X-Forwarded-For": random_client_ip()}
        ) as client:
            accounts = Accounts(client, app)
            me = await accounts.signed_in()
            event = supporter_event("activated", me["user"]["id"], tier="t-gold", cents=1500)
            connection = await aio_pika.connect(amqp_url)
            async with connection:
                channel = await connection.channel()
                exchange = await channel.declare_exchange(
                    f"{namespace}.events", aio_pika.ExchangeType.TOPIC, durable=True
                )
                for _ in range(2):  # delivered twice: one effect (the inbox)
                    await exchange.publish(
                        aio_pika.Message(event.to_json().encode(), message_id=str(event.id)), routing_key=event.type
                    )
            for _ in range(200):  # bounded wait for the consumer's commit
                cents = await app.state.db.fetch_value(
                    "SELECT patreon_cents FROM users WHERE id = %s", (me["user"]["id"],)
                )
                if cents is not None:
                    break
                await asyncio.sleep(0.05)
            claims = await refreshed(client, me)
            assert (claims["patreon_tier"], claims["patreon_cents"]) == ("t-gold", 1500)
            seen = await app.state.db.fetch_value(
                "SELECT COUNT(*) FROM processed_events WHERE event_id = %s", (str(event.id),)
            )
            assert seen == 1
    await delete_namespace(amqp_url, namespace, ["auth"])  # nothing left on the shared broker
