"""Membership journeys through the gateway, against the fake Patreon the e2e fixture starts:
a member links their Patreon account, a signed webhook makes them a patron, a pledge deletion
ends it; webhooks without a good signature change nothing. And the tier in the token: the
patron's next access token carries `patreon_tier` and `patreon_cents`, which open exclusive
items and patrons-only blog posts until a pledge deletion takes them away again."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

if TYPE_CHECKING:
    from conftest import BusListener

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(stack) -> AsyncIterator[httpx2.AsyncClient]:
    """The gateway's door only: Patreon sends the browser back to the redirect URI registered
    with it, which is the gateway's public address."""
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


PASSWORD = "patrons of the night cave"


async def sign_in_new_user(api: httpx2.AsyncClient) -> dict[str, Any]:
    email = f"patron-{uuid.uuid4().hex[:12]}@example.com"
    registered = await api.post(
        "/api/v1/auth/register",
        json={"email": email, "username": f"patron_{uuid.uuid4().hex[:10]}", "password": PASSWORD},
    )
    assert registered.status_code == 202, registered.text  # the same answer for known and new addresses
    session = await api.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert session.status_code == 200, session.text
    data = session.json()["data"]
    # Registration no longer says who was created; the token's subject does.
    payload = data["access_token"].split(".")[1]
    user_id = int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])
    return {**data, "id": user_id, "headers": {"Authorization": f"Bearer {data['access_token']}"}}


async def admin_headers(stack, api: httpx2.AsyncClient) -> dict[str, str]:
    response = await api.post("/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


def webhook(fake, member_id: str, trigger: str) -> tuple[bytes, dict[str, str]]:
    body = fake.webhook_body(member_id)
    secret = fake.stack_env("")["TDC_MEMBERSHIP_PATREON_WEBHOOK_SECRET"]
    signature = hmac.new(secret.encode(), body, hashlib.md5).hexdigest()
    return body, {"X-Patreon-Event": trigger, "X-Patreon-Signature": signature, "Content-Type": "application/json"}


async def link_patreon(api: httpx2.AsyncClient, fake, user: dict[str, Any], patreon_user_id: str) -> dict[str, str]:
    started = await api.post("/api/v1/user/membership/patreon/link", headers=user["headers"])
    assert started.status_code == 200, started.text
    fake.login_as = patreon_user_id
    async with httpx2.AsyncClient() as browser:  # the browser at Patreon, which sends it back
        at_patreon = await browser.get(started.json()["data"]["authorization_url"])
    assert at_patreon.status_code == 302, at_patreon.text
    back = urlsplit(at_patreon.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == str(api.base_url).rstrip("/"), "Patreon returns to the gateway"
    landed = await api.get(f"{back.path}?{back.query}")
    assert landed.status_code == 303, landed.text
    return {k: v[0] for k, v in parse_qs(urlsplit(landed.headers["location"]).query).items()}


async def standing(api: httpx2.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    response = await api.get("/api/v1/user/membership", headers=user["headers"])
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def sync_tiers(stack, api: httpx2.AsyncClient) -> None:
    admin = await admin_headers(stack, api)
    started = await api.post("/api/v1/admin/patreon/sync", headers=admin)
    assert started.status_code in (202, 409), started.text
    for _ in range(300):
        runs = (await api.get("/api/v1/admin/patreon/sync", headers=admin)).json()["data"]["runs"]
        if runs and runs[0]["status"] != "running":
            assert runs[0]["status"] == "succeeded", runs[0]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the reconciliation did not finish")


async def test_link_become_a_patron_then_end_the_pledge(stack, api: httpx2.AsyncClient, bus: BusListener, fake_patreon):
    fake = fake_patreon
    fake.add_tier("e2e-400", "Cave Dweller", 400)
    fake.add_tier("e2e-1200", "Night Owl", 1200)
    await sync_tiers(stack, api)
    tiers = (await api.get("/api/v1/support")).json()["data"]["tiers"]
    assert {("e2e-400", 400), ("e2e-1200", 1200)} <= {(t["id"], t["amount_cents"]) for t in tiers}

    user = await sign_in_new_user(api)
    patreon_user = str(uuid.uuid4().int % 10**9)
    member_id = str(uuid.uuid4())
    fake.new_member(member_id, patreon_user)  # a Patreon user who follows the campaign, no pledge yet
    assert await link_patreon(api, fake, user, patreon_user) == {"patreon": "linked"}
    mine = await standing(api, user)
    assert mine["linked"] is True and mine["active"] is False

    # The member pledges at Patreon; Patreon's signed webhook arrives through the gateway.
    member = fake.members[member_id]
    member.patron_status, member.tier_ids, member.entitled_cents = "active_patron", ["e2e-1200"], 1200
    body, headers = webhook(fake, member_id, "members:pledge:create")
    delivered = await api.post("/api/v1/webhooks/patreon", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text
    mine = await standing(api, user)
    assert mine["active"] is True and mine["patron_status"] == "active_patron"
    assert mine["tier"] == {"id": "e2e-1200", "title": "Night Owl", "amount_cents": 1200}
    activated = await bus.expect("membership.supporter.activated", user_id=user["id"])
    assert activated["source"] == "membership"
    assert activated["data"] == {
        "user_id": user["id"],
        "patreon_user_id": patreon_user,
        "tier_id": "e2e-1200",
        "amount_cents": 1200,
        "patron_status": "active_patron",
    }

    # The pledge is deleted: the same member, now a former patron.
    member.patron_status, member.tier_ids, member.entitled_cents = "former_patron", [], 0
    body, headers = webhook(fake, member_id, "members:pledge:delete")
    assert (await api.post("/api/v1/webhooks/patreon", content=body, headers=headers)).status_code == 200
    mine = await standing(api, user)
    assert mine["linked"] is True and mine["active"] is False and mine["tier"] is None
    ended = await bus.expect("membership.supporter.deactivated", user_id=user["id"])
    assert ended["data"]["patron_status"] == "former_patron" and ended["data"]["tier_id"] == "e2e-1200"


async def test_unsigned_or_forged_webhooks_change_nothing(stack, api: httpx2.AsyncClient, fake_patreon):
    fake = fake_patreon
    member_id, patreon_user = str(uuid.uuid4()), str(uuid.uuid4().int % 10**9)
    fake.new_member(member_id, patreon_user, "active_patron", [], 900)
    body, headers = webhook(fake, member_id, "members:pledge:create")
    unsigned = await api.post("/api/v1/webhooks/patreon", content=body, headers={"X-Patreon-Event": "members:create"})
    assert unsigned.status_code == 401 and unsigned.json()["success"] is False  # the gateway's own refusal
    forged = await api.post(
        "/api/v1/webhooks/patreon", content=body, headers={**headers, "X-Patreon-Signature": "0" * 32}
    )
    assert forged.status_code == 401 and forged.json() == {"success": False, "error": "Invalid webhook signature"}
    admin = await admin_headers(stack, api)
    found = await api.get("/api/v1/admin/patreon/supporters", params={"q": patreon_user}, headers=admin)
    assert found.status_code == 200 and found.json()["data"] == []
    log = (await api.get("/api/v1/admin/patreon/webhooks", headers=admin)).json()["data"]
    assert log[0]["verified"] is False and log[0]["outcome"] == "rejected"


async def test_exclusive_items_need_a_token_and_a_tier(stack, api: httpx2.AsyncClient):
    user = await sign_in_new_user(api)
    admin = await admin_headers(stack, api)
    created = await api.post(
        "/api/v1/admin/patreon/exclusive", json={"kind": "post", "title": "Owls only", "body": "..."}, headers=admin
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/exclusive/{created.json()['data']['id']}"
    assert (await api.get(url)).status_code == 401
    refused = await api.get(url, headers=user["headers"])
    assert refused.status_code == 403 and refused.json()["error"] == "Patreon supporter status required"
    listed = await api.get("/api/v1/exclusive", headers=user["headers"])
    assert any(i["id"] == created.json()["data"]["id"] and i["locked"] for i in listed.json()["data"])


def claims_of(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def refreshed(api: httpx2.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    """Rotate the user's tokens; returns the new access token's claims."""
    response = await api.post("/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    user["refresh_token"] = data["refresh_token"]
    user["access_token"] = data["access_token"]
    user["headers"] = {"Authorization": f"Bearer {data['access_token']}"}
    return claims_of(data["access_token"])


async def refresh_until(api: httpx2.AsyncClient, user: dict[str, Any], wanted) -> dict[str, Any]:
    """Auth applies membership's event shortly after it is published: refresh until it has."""
    for _ in range(100):
        claims = await refreshed(api, user)
        if wanted(claims):
            return claims
        await asyncio.sleep(0.2)
    raise AssertionError(f"the token never showed the change: {claims}")


async def test_the_tier_travels_in_the_token_and_opens_exclusive_items(
    stack, api: httpx2.AsyncClient, bus: BusListener, fake_patreon
):
    fake = fake_patreon
    fake.add_tier("tok-300", "Ember", 300)
    fake.add_tier("tok-900", "Bonfire", 900)
    await sync_tiers(stack, api)
    admin = await admin_headers(stack, api)
    items = {}
    for name, tier in (("ember", "tok-300"), ("bonfire", "tok-900")):
        created = await api.post(
            "/api/v1/admin/patreon/exclusive",
            json={"kind": "post", "title": f"For {name}", "body": f"{name} secrets", "required_tier_id": tier},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        items[name] = f"/api/v1/exclusive/{created.json()['data']['id']}"

    user = await sign_in_new_user(api)
    assert "patreon_tier" not in claims_of(user["access_token"])
    patreon_user, member_id = str(uuid.uuid4().int % 10**9), str(uuid.uuid4())
    fake.new_member(member_id, patreon_user)
    assert await link_patreon(api, fake, user, patreon_user) == {"patreon": "linked"}
    refused = await api.get(items["ember"], headers=user["headers"])
    assert refused.status_code == 403 and refused.json()["error"] == "Patreon supporter status required"

    member = fake.members[member_id]
    member.patron_status, member.tier_ids, member.entitled_cents = "active_patron", ["tok-300"], 300
    body, headers = webhook(fake, member_id, "members:pledge:create")
    assert (await api.post("/api/v1/webhooks/patreon", content=body, headers=headers)).status_code == 200
    await bus.expect("membership.supporter.activated", user_id=user["id"])
    claims = await refresh_until(api, user, lambda c: c.get("patreon_tier") == "tok-300")
    assert claims["patreon_cents"] == 300
    opened = await api.get(items["ember"], headers=user["headers"])
    assert opened.status_code == 200 and opened.json()["data"]["content"]["body"] == "ember secrets"
    higher = await api.get(items["bonfire"], headers=user["headers"])
    assert higher.status_code == 403 and higher.json()["error"] == "Higher Patreon tier required"

    # The blog gates on the same claims: a patrons-only post opens for the patron, not for others.
    secret = f"patron-secret-{uuid.uuid4().hex[:8]}"
    post = await api.post(
        "/api/v1/admin/blog/posts",
        headers=admin,
        json={
            "slug": f"patrons-night-{uuid.uuid4().hex[:6]}",
            "title": "Patrons night",
            "visibility": "patrons",
            "excerpt": "For those who keep the cave lit.",
            "body": f"The {secret} setlist.",
        },
    )
    assert post.status_code == 201, post.text
    published = await api.post(f"/api/v1/admin/blog/posts/{post.json()['data']['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    path = f"/api/v1/blog/posts/{post.json()['data']['slug']}"
    as_patron = (await api.get(path, headers=user["headers"])).json()["data"]
    assert as_patron["locked"] is False and secret in as_patron["body_html"]
    anonymous = await api.get(path)
    assert anonymous.json()["data"]["locked"] is True and secret not in anonymous.text

    # An upgrade opens the pricier item at the next refresh.
    member.tier_ids, member.entitled_cents = ["tok-900"], 900
    body, headers = webhook(fake, member_id, "members:pledge:update")
    assert (await api.post("/api/v1/webhooks/patreon", content=body, headers=headers)).status_code == 200
    claims = await refresh_until(api, user, lambda c: c.get("patreon_tier") == "tok-900")
    assert claims["patreon_cents"] == 900
    assert (await api.get(items["bonfire"], headers=user["headers"])).status_code == 200

    # The pledge is deleted: the claims go at the next refresh, and the items close.
    member.patron_status, member.tier_ids, member.entitled_cents = "former_patron", [], 0
    body, headers = webhook(fake, member_id, "members:pledge:delete")
    assert (await api.post("/api/v1/webhooks/patreon", content=body, headers=headers)).status_code == 200
    assert (await standing(api, user))["active"] is False
    claims = await refresh_until(api, user, lambda c: "patreon_tier" not in c)
    assert "patreon_cents" not in claims
    closed = await api.get(items["ember"], headers=user["headers"])
    assert closed.status_code == 403 and closed.json()["error"] == "Patreon supporter status required"
