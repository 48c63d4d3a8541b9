"""Exactly once: two senders on one queue, a sender that died mid-batch, and the account mails."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from notification_testkit import Service
from smtp_servers import SmtpServer

from tdc_notification.queries import mails


async def _queue_resets(service: Service, count: int) -> None:
    async with service.db.transaction() as tx:
        for n in range(count):
            await mails.enqueue(
                tx,
                key=f"password_reset:{n}:{uuid.uuid4().hex}",
                user_id=n + 1,
                kind="password_reset",
                subject_ref=None,
                to=f"r{n}@example.com",
                language="en",
                subject="Reset your password",
                context={"name": "x", "link": "https://club.test/reset-password?token=t", "expires_at": ""},
                due_at=service.clock.now(),
                now=service.clock.now(),
            )


async def test_two_senders_claiming_at_once_mail_each_person_once(service: Service, sink: SmtpServer):
    await _queue_resets(service, 60)
    service.settings.notification_sender_batch = 5
    first, second = service.sender(sink.url, "one"), service.sender(sink.url, "two")

    async def drain(sender) -> None:
        while await sender.send_batch():
            pass

    await asyncio.gather(drain(first), drain(second))
    addresses = [r.to[0] for r in sink.received]
    assert sorted(addresses) == sorted(f"r{n}@example.com" for n in range(60))
    assert first.sent > 0 and second.sent > 0  # both took part
    assert await service.mails(status="sent") and not await service.mails(status="pending")


async def test_a_sender_that_died_mid_batch_never_resends_the_mail_it_was_sending(service: Service, sink: SmtpServer):
    await _queue_resets(service, 3)
    now = service.clock.now()
    async with service.db.transaction() as tx:
        # Claimed; the first one handed to the relay ... and then the process was killed.
        ids = await mails.claim(tx, now=now, limit=10, token="d" * 32, lease_until=now + timedelta(seconds=60))
    sender = service.sender(sink.url)
    assert await sender.send_batch() == 0  # all three are held by the dead claim
    service.clock.advance(61)
    async with service.db.transaction() as tx:
        assert await mails.recover_expired(tx, service.clock.now()) == 3
    while await sender.send_batch():
        pass
    # The two never begun are sent; the one whose SMTP exchange may have begun is not sent again.
    assert sorted(r.to[0] for r in sink.received) == ["r1@example.com", "r2@example.com"]
    [unknown] = await service.mails(id=ids[0])
    assert unknown["status"] == "failed" and "outcome unknown" in unknown["last_error"]
    assert unknown["context"] is None


async def test_welcome_follows_verification_once_in_either_order(service: Service, sink: SmtpServer):
    registered = {"user_id": 21, "email": "new@example.com", "username": "newbie", "language": "it"}
    await service.publish("auth.user.registered", registered)
    assert await service.mails(kind="welcome") == []  # not verified yet
    await service.verified_user(21, "new@example.com", "it")
    await service.verified_user(21, "new@example.com", "it")  # another update: still one welcome
    await service.publish("auth.user.registered", registered)  # replayed: still one
    await service.verified_user(22, "other@example.com")  # verified first, registered second
    await service.publish("auth.user.registered", {**registered, "user_id": 22, "email": "other@example.com"})
    await service.sender(sink.url).send_batch()
    [welcome] = sink.to("new@example.com")
    assert welcome.subject == "Benvenuto a The Dreamer's Cave" and "user21" in welcome.part("plain")  # the latest name
    assert welcome.message["List-Unsubscribe"] is not None
    assert len(sink.to("other@example.com")) == 1


async def test_a_deleted_account_is_erased_and_its_pending_mail_cancelled(service: Service):
    await service.verified_user(31, "gone@example.com", newsletter=True)
    await service.publish("blog.post.published", {"id": 3, "slug": "s", "translations": {"en": {"title": "T"}}})
    [pending] = await service.mails(kind="newsletter")
    await service.publish("auth.user.deleted", {"user_id": 31})
    [row] = await service.mails(id=pending["id"])
    assert row["status"] == "cancelled" and row["to_address"] == "" and row["user_id"] is None
    assert await service.db.fetch_all("SELECT * FROM recipients WHERE user_id = 31") == []
    assert await service.db.fetch_all("SELECT * FROM preferences WHERE user_id = 31") == []


async def test_supporters_are_thanked_when_linked_to_an_account(service: Service, sink: SmtpServer):
    await service.verified_user(41, "fan@example.com", "fr")
    base = {"patreon_user_id": "p1", "tier_id": "t1", "amount_cents": 500, "patron_status": "active_patron"}
    await service.publish("membership.supporter.activated", {**base, "user_id": None})
    await service.publish("membership.supporter.activated", {**base, "user_id": 41})
    await service.publish("membership.supporter.tier_changed", {**base, "user_id": 41, "tier_id": "t2"})
    await service.sender(sink.url).send_batch()
    thanks = sink.to("fan@example.com")
    assert [t.subject for t in thanks] == ["Merci de soutenir The Dreamer's Cave"] * 2
    assert len(sink.received) == 2


async def test_a_gated_post_gets_the_teaser_and_only_opted_in_verified_readers_get_it(service: Service, sink):
    await service.verified_user(51, "in@example.com", "es", newsletter=True)
    await service.verified_user(52, "out@example.com")
    await service.publish(
        "auth.user.registered", {"user_id": 53, "email": "unverified@example.com", "username": "u", "language": "en"}
    )
    await service.client.put(
        "/api/v1/user/notifications/preferences", json={"newsletter": True}, headers=service.auth(53)
    )
    post = {
        "id": 7,
        "slug": "members-night",
        "visibility": "patreon",
        "required_cents": 500,
        "translations": {"en": {"title": "Members night", "excerpt": "A look"}, "es": {"title": "Noche de socios"}},
    }
    await service.publish("blog.post.published", post)
    await service.publish("blog.post.published", post)  # published again: no second newsletter
    await service.sender(sink.url).send_batch()
    [mail] = sink.received
    assert mail.to == ["in@example.com"] and mail.subject == "Nuevo en el blog: Noche de socios"
    text = mail.part("plain")
    assert "A look" in text and "https://club.test/blog/members-night" in text and "inicia sesión" in text


async def test_a_lane_whose_claim_ran_out_stops_and_nothing_is_sent_twice(service: Service, sink: SmtpServer):
    await _queue_resets(service, 4)
    service.settings.notification_sender_lease_seconds = 60
    slow = service.sender(sink.url, "slow")
    original = slow._deliver

    async def deliver_then_stall(row):
        result = await original(row)
        if row["id"] == first_id:
            # While this lane was stuck, its lease ran out and another replica recovered the claim.
            service.clock.advance(61)
            async with service.db.transaction() as tx:
                await mails.recover_expired(tx, service.clock.now())
        return result

    first_id = int((await service.mails())[0]["id"])
    slow._deliver = deliver_then_stall
    assert await slow.send_batch() == 1  # it learnt from its commit that the claim was gone
    other = service.sender(sink.url, "other")
    while await other.send_batch():
        pass
    addresses = [r.to[0] for r in sink.received]
    assert sorted(addresses) == [f"r{n}@example.com" for n in range(4)]  # each exactly once
    [first] = await service.mails(id=first_id)
    assert first["status"] == "failed" and "outcome unknown" in first["last_error"]
