"""Webhook deliveries: signatures, the deliveries log, duplicates and deliveries out of order."""

from __future__ import annotations

import asyncio
import json

from fake_patreon import fixture, sign
from membership_testkit import Membership

from tdc_membership.signatures import patreon_signature, patreon_signature_ok

URL = "/api/v1/webhooks/patreon"


def test_signature_matches_patreons_published_test_vectors():
    assert patreon_signature("secret", b"testing") == "a964f51f0ae9c643aca91bfbc66f6d78"
    assert patreon_signature("secret", b'{"data":{"type":"post"}}') == "607ab2394f5c0de6f35b1aabecd0c851"
    assert patreon_signature_ok("secret", b"testing", "a964f51f0ae9c643aca91bfbc66f6d78")
    assert patreon_signature_ok("secret", b"testing", "A964F51F0AE9C643ACA91BFBC66F6D78")
    assert not patreon_signature_ok("secret", b"testing ", "a964f51f0ae9c643aca91bfbc66f6d78")
    assert not patreon_signature_ok("other", b"testing", "a964f51f0ae9c643aca91bfbc66f6d78")
    assert not patreon_signature_ok("secret", b"testing", None)
    assert not patreon_signature_ok("", b"testing", patreon_signature("", b"testing"))


async def _deliveries(m: Membership) -> list[dict]:
    response = await m.client.get("/api/v1/admin/patreon/webhooks", headers=m.admin, params={"per_page": 100})
    assert response.status_code == 200
    return response.json()["data"]


async def test_bad_or_missing_signatures_are_401_change_nothing_and_log_no_body(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    body = m.fake.webhook_body(member.member_id)
    before = await _deliveries(m)
    attempts = [
        {"X-Patreon-Event": "members:pledge:create"},
        {"X-Patreon-Event": "members:pledge:create", "X-Patreon-Signature": ""},
        {"X-Patreon-Event": "members:pledge:create", "X-Patreon-Signature": "0" * 32},
        {"X-Patreon-Event": "members:pledge:create", "X-Patreon-Signature": sign(body, "wrong-secret")},
        {"X-Patreon-Event": "members:pledge:create", "X-Patreon-Signature": sign(body + b" ")},
    ]
    for headers in attempts:
        response = await m.client.post(URL, content=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == {"success": False, "error": "Invalid webhook signature"}
    assert await m.supporter(member.user_id) is None
    assert not m.fake.seen(f"/members/{member.member_id}"), "an unverified delivery made us call Patreon"
    logged = (await _deliveries(m))[: len(attempts)]
    assert len(await _deliveries(m)) == len(before) + len(attempts)
    assert all(d["verified"] is False and d["outcome"] == "rejected" for d in logged)
    assert all(d["patreon_member_id"] is None for d in logged)
    stored = await m.db.fetch_all("SELECT * FROM webhook_deliveries WHERE verified = 0")
    text = json.dumps([{k: str(v) for k, v in row.items()} for row in stored])
    assert member.member_id not in text and member.email not in text and "secret" not in text


async def test_a_signed_pledge_makes_a_supporter_and_publishes_once(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    response = await m.deliver(member.member_id, "members:pledge:create")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"outcome": "applied", "detail": "membership.supporter.activated"}
    row = await m.supporter(member.user_id)
    assert row["is_active"] == 1 and row["tier_id"] == "t-500" and row["amount_cents"] == 500
    assert row["email"] == member.email and row["patron_status"] == "active_patron"
    assert await m.outbox("membership.supporter.activated", patreon_user_id=member.user_id) == [
        {
            "user_id": None,
            "patreon_user_id": member.user_id,
            "tier_id": "t-500",
            "amount_cents": 500,
            "patron_status": "active_patron",
        }
    ]
    # The same delivery again (Patreon retries): one effect.
    again = await m.deliver(member.member_id, "members:pledge:create", m.fake.webhook_body(member.member_id))
    assert again.status_code == 200 and again.json()["data"]["outcome"] == "duplicate"
    assert len(await m.outbox("membership.supporter.activated", patreon_user_id=member.user_id)) == 1
    reads = m.fake.seen(f"/api/oauth2/v2/members/{member.member_id}")
    assert len(reads) == 1, "the duplicate was recognised without asking Patreon"
    # What we asked for: the member's attributes, its tiers and user (v2 sends only what is asked).
    assert reads[0].query["include"] == "currently_entitled_tiers,user,campaign"
    assert "patron_status" in reads[0].query["fields[member]"]


async def test_an_old_delivery_after_a_newer_one_never_wins(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    old_create = m.fake.webhook_body(member.member_id)  # made while the pledge was live
    member.patron_status, member.tier_ids, member.entitled_cents = "former_patron", [], 0
    delete = m.fake.webhook_body(member.member_id)
    # Patreon delivers the deletion first, then the stale creation (retried late).
    assert (await m.deliver(member.member_id, "members:pledge:delete", delete)).status_code == 200
    late = await m.deliver(member.member_id, "members:pledge:create", old_create)
    assert late.status_code == 200 and late.json()["data"]["outcome"] == "applied"
    row = await m.supporter(member.user_id)
    assert row["is_active"] == 0 and row["patron_status"] == "former_patron" and row["tier_id"] is None
    assert await m.outbox("membership.supporter.activated", patreon_user_id=member.user_id) == []


async def test_upgrade_then_pledge_deletion(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    await m.deliver(member.member_id, "members:pledge:create")
    member.tier_ids, member.entitled_cents = ["t-1500"], 1500
    assert (await m.deliver(member.member_id, "members:pledge:update")).json()["data"]["detail"] == (
        "membership.supporter.tier_changed"
    )
    assert await m.outbox("membership.supporter.tier_changed", patreon_user_id=member.user_id) == [
        {
            "user_id": None,
            "patreon_user_id": member.user_id,
            "tier_id": "t-1500",
            "amount_cents": 1500,
            "patron_status": "active_patron",
        }
    ]
    # The pledge is deleted and the member is gone from Patreon altogether: GET /members/{id} is a 404.
    body = m.fake.webhook_body(member.member_id)
    m.fake.remove_member(member.member_id)
    response = await m.deliver(member.member_id, "members:delete", body)
    assert response.json()["data"]["detail"] == "membership.supporter.deactivated"
    # The event names the standing that ended.
    assert await m.outbox("membership.supporter.deactivated", patreon_user_id=member.user_id) == [
        {
            "user_id": None,
            "patreon_user_id": member.user_id,
            "tier_id": "t-1500",
            "amount_cents": 1500,
            "patron_status": None,
        }
    ]
    assert (await m.supporter(member.user_id))["is_active"] == 0


async def test_the_highest_entitled_tier_counts_and_tiers_are_recorded(membership: Membership):
    m = membership
    member = m.member(["t-500", "t-1500"], cents=1500)
    await m.deliver(member.member_id, "members:create")
    row = await m.supporter(member.user_id)
    assert (row["tier_id"], row["amount_cents"]) == ("t-1500", 1500)
    tiers = (await m.client.get("/api/v1/admin/patreon/tiers", headers=m.admin)).json()["data"]
    assert {"t-500": 500, "t-1500": 1500}.items() <= {t["id"]: t["amount_cents"] for t in tiers}.items()


async def test_the_real_captured_delivery_is_read_as_a_hint(membership: Membership):
    """Patreon's own captured `members:pledge:update` body, for a member the fake also knows."""
    m = membership
    sample = fixture("webhook-members-pledge-update.json")
    member_id, user_id = sample["data"]["id"], sample["data"]["relationships"]["user"]["data"]["id"]
    if member_id not in m.fake.members:
        from fake_patreon import FakeMember

        m.fake.add_member(FakeMember(member_id, user_id, "active_patron", ["9512023", "9512103"], 100))
    body = json.dumps(sample).encode()
    response = await m.deliver(member_id, "members:pledge:update", body)
    assert response.status_code == 200, response.text
    row = await m.supporter(user_id)
    assert row["is_active"] == 1 and row["amount_cents"] == 100
    # Equal prices: the lower id, whatever order the tiers came in.
    assert row["tier_id"] == "9512023"


async def test_deliveries_that_are_not_ours_or_not_members_are_logged_and_ignored(membership: Membership):
    m = membership
    post = b'{"data":{"type":"post","id":"1"}}'
    response = await m.deliver("x", "posts:publish", post)
    assert response.status_code == 200 and response.json()["data"]["outcome"] == "ignored"
    follower = fixture("webhook-members-docs-data-only.json")  # campaign 123456, not ours
    response = await m.deliver("x", "members:create", json.dumps(follower).encode())
    assert response.json()["data"] == {"outcome": "ignored", "detail": "another campaign"}
    for junk in (b"not json", b"[]", b'{"data": {"type": "member", "id": "../../campaigns/1"}}'):
        response = await m.deliver("x", "members:update", junk)
        assert response.status_code == 200 and response.json()["data"]["outcome"] == "ignored", junk
    assert not m.fake.seen("/campaigns/1")


async def test_patreon_down_defers_the_delivery_and_a_redelivery_applies_it(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    m.fake.member_reads_fail = True
    try:
        response = await m.deliver(member.member_id, "members:pledge:create")
    finally:
        m.fake.member_reads_fail = False
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    assert await m.supporter(member.user_id) is None
    retried = await m.deliver(member.member_id, "members:pledge:create")
    assert retried.status_code == 200 and retried.json()["data"]["outcome"] == "applied"
    assert (await m.supporter(member.user_id))["is_active"] == 1
    outcomes = [d["outcome"] for d in await _deliveries(m) if d["patreon_member_id"] == member.member_id]
    assert outcomes == ["applied", "deferred"]


async def test_an_oversized_body_is_refused(membership: Membership):
    m = membership
    body = b"x" * (m.app.state.settings.membership_webhook_max_bytes + 1)
    response = await m.client.post(URL, content=body, headers={"X-Patreon-Signature": sign(body)})
    assert response.status_code == 413 and response.json()["success"] is False


async def test_the_deliveries_log_is_for_admins_only(membership: Membership):
    m = membership
    assert (await m.client.get("/api/v1/admin/patreon/webhooks")).status_code == 401
    user = await m.client.get("/api/v1/admin/patreon/webhooks", headers=m.headers(5, role="staff"))
    assert user.status_code == 403 and user.json()["error"] == "Admin access required"


async def test_concurrent_deliveries_for_one_member_have_one_effect(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    bodies = [m.fake.webhook_body(member.member_id)]
    member.entitled_cents = 501  # a later delivery of the same pledge, a different body
    bodies.append(m.fake.webhook_body(member.member_id))
    triggers = ["members:create", "members:pledge:create", "members:update", "members:pledge:update"]
    responses = await asyncio.gather(*(m.deliver(member.member_id, triggers[i % 4], bodies[i % 2]) for i in range(12)))
    assert all(r.status_code in (200, 503) for r in responses), [r.text for r in responses]
    assert any(r.status_code == 200 for r in responses)
    row = await m.supporter(member.user_id)
    assert row["is_active"] == 1 and row["tier_id"] == "t-500" and row["entitled_cents"] == 501
    assert len(await m.outbox("membership.supporter.activated", patreon_user_id=member.user_id)) == 1
    assert await m.outbox("membership.supporter.tier_changed", patreon_user_id=member.user_id) == []
