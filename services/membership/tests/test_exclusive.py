"""Exclusive content: the gate on the token's claims, what each item needs, signed downloads,
and the admin side of items."""

from __future__ import annotations

import time
from typing import Any

import pytest
from membership_testkit import Membership

ADMIN = "/api/v1/admin/patreon/exclusive"


async def _tiers(m: Membership) -> None:
    """The tiers the items point at, as a webhook would record them."""
    member = m.member(["t-500", "t-1500"], cents=1500)
    await m.deliver(member.member_id, "members:create")


async def _item(m: Membership, **fields: Any) -> dict[str, Any]:
    response = await m.client.post(ADMIN, json={"kind": "post", "title": "A post", **fields}, headers=m.admin)
    assert response.status_code == 201, response.text
    return response.json()["data"]


@pytest.fixture
async def items(membership: Membership) -> dict[str, dict[str, Any]]:
    await _tiers(membership)
    return {
        "any": await _item(membership, title="For everyone who supports", body="Thank you all"),
        "regular": await _item(
            membership, kind="video", title="Regular video", url="https://video.example/r", required_tier_id="t-500"
        ),
        "owl": await _item(membership, title="Night owl post", body="Only for owls", required_tier_id="t-1500"),
    }


async def test_the_gate_answers(membership: Membership, items):
    m = membership
    owl = f"/api/v1/exclusive/{items['owl']['id']}"
    assert (await m.client.get(owl)).status_code == 401
    nobody = await m.client.get(owl, headers=m.headers(41))
    assert nobody.status_code == 403 and nobody.json() == {
        "success": False,
        "error": "Patreon supporter status required",
    }
    regular = await m.client.get(owl, headers=m.patron(42, "t-500", 500))
    assert regular.status_code == 403 and regular.json()["error"] == "Higher Patreon tier required"
    opened = await m.client.get(owl, headers=m.patron(43, "t-1500", 1500))
    assert opened.status_code == 200
    assert opened.json()["data"]["content"]["body"] == "Only for owls" and opened.json()["data"]["locked"] is False
    # Amounts decide, not tier ids: a pricier tier of any name opens it.
    assert (await m.client.get(owl, headers=m.patron(44, "some-other-tier", 2500))).status_code == 200
    # An item naming no tier opens for any supporter.
    anyone = f"/api/v1/exclusive/{items['any']['id']}"
    assert (await m.client.get(anyone, headers=m.patron(45, "t-500", 500))).status_code == 200
    assert (await m.client.get(anyone, headers=m.headers(45))).status_code == 403
    # Staff and admins are gated like everyone else on the public routes.
    assert (await m.client.get(owl, headers=m.admin)).status_code == 403
    assert (await m.client.get("/api/v1/exclusive/999999999", headers=m.admin)).status_code == 404
    for bad in ("0", "-1", "abc", str(2**64)):
        assert (await m.client.get(f"/api/v1/exclusive/{bad}", headers=m.admin)).status_code == 422, bad
        assert (await m.client.get(f"{ADMIN}/{bad}", headers=m.admin)).status_code == 422, bad


async def test_headers_claiming_a_tier_do_not_open_anything(membership: Membership, items):
    m = membership
    owl = f"/api/v1/exclusive/{items['owl']['id']}"
    forged = {**m.headers(46), "X-User-Patreon-Tier": "t-1500", "X-User-Patreon-Cents": "99999"}
    assert (await m.client.get(owl, headers=forged)).status_code == 403
    assert (await m.client.get(owl, headers={"X-User-Patreon-Cents": "99999", "X-User-Id": "1"})).status_code == 401


async def test_the_list_says_what_is_locked_and_what_unlocks_it(membership: Membership, items):
    m = membership
    listed = await m.client.get("/api/v1/exclusive", headers=m.patron(47, "t-500", 500), params={"lang": "en"})
    assert listed.status_code == 200
    by_id = {i["id"]: i for i in listed.json()["data"]}
    assert by_id[items["any"]["id"]]["locked"] is False
    assert by_id[items["any"]["id"]]["unlocks"] == {"any_supporter": True, "tier": None}
    assert by_id[items["regular"]["id"]]["locked"] is False
    assert by_id[items["owl"]["id"]]["locked"] is True
    assert by_id[items["owl"]["id"]]["unlocks"] == {
        "any_supporter": False,
        "tier": {"id": "t-1500", "title": "Night Owl", "amount_cents": 1500},
    }
    assert all("content" not in i and "body" not in i for i in by_id.values())
    assert (await m.client.get("/api/v1/exclusive")).status_code == 401


async def test_translations_fall_back_to_english(membership: Membership, items):
    m = membership
    owl = items["owl"]["id"]
    response = await m.client.put(
        f"{ADMIN}/{owl}/translations", json={"translations": {"it": {"title": "Post per nottambuli"}}}, headers=m.admin
    )
    assert response.status_code == 200
    italian = await m.client.get(
        f"/api/v1/exclusive/{owl}", headers=m.patron(48, "t-1500", 1500), params={"lang": "it"}
    )
    assert italian.json()["data"]["title"] == "Post per nottambuli"
    assert italian.json()["data"]["content"]["body"] == "Only for owls"  # no Italian body: English
    french = await m.client.get(
        f"/api/v1/exclusive/{owl}", headers={**m.patron(48, "t-1500", 1500), "Accept-Language": "fr"}
    )
    assert french.json()["data"]["title"] == "Night owl post"


async def test_a_download_is_a_signed_link_that_expires(membership: Membership, items):
    m = membership
    item = await _item(m, kind="download", title="Stems", required_tier_id="t-500")
    payload = b"\x00stems of the night\xff" * 100
    put = await m.client.put(
        f"{ADMIN}/{item['id']}/file",
        params={"filename": "stems.zip"},
        content=payload,
        headers={**m.admin, "Content-Type": "application/zip"},
    )
    assert put.status_code == 200 and put.json()["data"]["file"] == {
        "name": "stems.zip",
        "content_type": "application/zip",
        "size": len(payload),
    }
    opened = await m.client.get(f"/api/v1/exclusive/{item['id']}", headers=m.patron(49, "t-500", 500))
    download = opened.json()["data"]["content"]["download"]
    assert download["url"].startswith(f"/api/v1/support/downloads/{item['id']}?expires=")
    got = await m.client.get(download["url"])  # no token: the signature is the permission
    assert got.status_code == 200 and got.content == payload
    assert got.headers["content-type"] == "application/zip" and "stems.zip" in got.headers["content-disposition"]

    base, _, query = download["url"].partition("?")
    params = dict(p.split("=") for p in query.split("&"))
    tampered = {**params, "signature": ("0" if params["signature"][0] != "0" else "1") + params["signature"][1:]}
    assert (await m.client.get(base, params=tampered)).status_code == 403
    longer = {**params, "expires": str(int(params["expires"]) + 3600)}
    assert (await m.client.get(base, params=longer)).status_code == 403
    other_item = f"/api/v1/support/downloads/{items['owl']['id']}"
    assert (await m.client.get(other_item, params=params)).status_code == 403
    assert (await m.client.get(base, params={"expires": "1", "signature": "zz"})).status_code == 422

    from tdc_membership.signatures import download_query

    settings = m.app.state.settings
    key = (await m.db.fetch_one("SELECT file_key FROM exclusive_items WHERE id = %s", (item["id"],)))["file_key"]
    old = download_query(settings.membership_download_secret, item["id"], key, 60, now=time.time() - 3600)
    expired = await m.client.get(base, params=old)
    assert expired.status_code == 410 and expired.json()["error"] == "Download link has expired"

    # A new file makes every older link invalid.
    await m.client.put(f"{ADMIN}/{item['id']}/file", params={"filename": "v2.zip"}, content=b"v2", headers=m.admin)
    assert (await m.client.get(download["url"])).status_code == 403


async def test_admin_item_validation_and_authorization(membership: Membership, items):
    m = membership
    bad_bodies = [
        {"kind": "hologram", "title": "x"},
        {"kind": "post"},
        {"kind": "post", "title": ""},
        {"kind": "post", "title": "x", "url": "javascript:alert(1)"},
        {"kind": "post", "title": "x", "owner": 1},
        {"kind": "post", "title": "x", "required_tier_id": "no such tier"},
    ]
    for body in bad_bodies:
        response = await m.client.post(ADMIN, json=body, headers=m.admin)
        assert response.status_code == 422, body
    unknown_tier = await m.client.post(
        ADMIN, json={"kind": "post", "title": "x", "required_tier_id": "t-9"}, headers=m.admin
    )
    assert unknown_tier.json()["errors"] == {"required_tier_id": ["no such tier t-9"]}
    owl = items["owl"]["id"]
    assert (await m.client.put(f"{ADMIN}/{owl}", json={"title": None}, headers=m.admin)).status_code == 422
    hidden = await m.client.put(f"{ADMIN}/{owl}", json={"is_published": False}, headers=m.admin)
    assert hidden.status_code == 200 and hidden.json()["data"]["is_published"] is False
    assert (await m.client.get(f"/api/v1/exclusive/{owl}", headers=m.patron(50, "t-1500", 1500))).status_code == 404
    for headers, status in ((m.headers(51), 403), (m.headers(52, role="staff"), 403), ({}, 401)):
        assert (await m.client.get(ADMIN, headers=headers)).status_code == status
        assert (await m.client.post(ADMIN, json={"kind": "post", "title": "x"}, headers=headers)).status_code == status
        assert (await m.client.delete(f"{ADMIN}/{owl}", headers=headers)).status_code == status
    assert (await m.client.delete(f"{ADMIN}/{owl}", headers=m.admin)).status_code == 204
    assert (await m.client.get(f"{ADMIN}/{owl}", headers=m.admin)).status_code == 404
    assert (
        await m.client.put(f"{ADMIN}/{owl}/file", params={"filename": "a"}, content=b"x", headers=m.admin)
    ).status_code == 404
    empty = await m.client.put(
        f"{ADMIN}/{items['any']['id']}/file", params={"filename": "a"}, content=b"", headers=m.admin
    )
    assert empty.status_code == 422
    sneaky = await m.client.put(
        f"{ADMIN}/{items['any']['id']}/file", params={"filename": "../../etc/passwd"}, content=b"x", headers=m.admin
    )
    assert sneaky.status_code == 422
