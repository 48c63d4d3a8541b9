"""auth.user.deleted, delivered over the real bus: the link and the personal data go."""

from __future__ import annotations

import asyncio

import aio_pika
from membership_testkit import Membership, new_user_id

from tdc_shared.events import Event


async def _publish(m: Membership, event: Event) -> None:
    settings = m.app.state.settings
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(f"{settings.bus_namespace}.events")
        message = aio_pika.Message(
            event.to_json().encode(), message_id=str(event.id), type=event.type, content_type="application/json"
        )
        await exchange.publish(message, routing_key=event.type)


async def test_a_deleted_account_loses_its_link_and_personal_data(membership: Membership):
    m = membership
    async with asyncio.timeout(120):  # a broker that never answers fails the test, not the run
        await m.app.state.event_bus.wait_ready()
    member = m.member(["t-500"], cents=500)
    user_id = new_user_id()
    await m.link(user_id, member.user_id)
    await m.client.put(
        "/api/v1/user/membership/wall", json={"show": True, "display_name": "Me"}, headers=m.headers(user_id)
    )
    await m.client.post("/api/v1/user/membership/patreon/link", headers=m.headers(user_id))  # a link under way

    event = Event(type="auth.user.deleted", source="auth", data={"user_id": user_id})
    await _publish(m, event)
    await _publish(m, event)  # delivered twice: handled once
    for _ in range(1500):
        row = await m.supporter(member.user_id)
        if row["user_id"] is None:
            break
        await asyncio.sleep(0.02)
    assert row["user_id"] is None and row["email"] is None and row["full_name"] is None
    assert row["wall_opt_in"] == 0 and row["wall_name"] is None
    assert await m.db.fetch_value("SELECT COUNT(*) FROM link_states WHERE user_id = %s", (user_id,)) == 0
    await asyncio.sleep(0.3)
    ended = await m.outbox("membership.supporter.deactivated", user_id=user_id)
    assert ended == [
        {
            "user_id": user_id,
            "patreon_user_id": member.user_id,
            "tier_id": "t-500",
            "amount_cents": 500,
            "patron_status": "active_patron",
        }
    ]
    mine = (await m.client.get("/api/v1/user/membership", headers=m.headers(user_id))).json()["data"]
    assert mine["linked"] is False


def test_membership_consumes_exactly_what_it_handles():
    from tdc_membership.handlers import handlers
    from tdc_shared.events import consumed_by
    from tdc_shared.events.revocations import TOKENS_REVOKED

    # Token revocations reach every process through the bus's own broadcast, not handlers.py.
    transactional = [t for t in consumed_by("membership") if t != TOKENS_REVOKED]
    assert handlers.event_types == transactional == ["auth.user.deleted"]
