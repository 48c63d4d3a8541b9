"""Linking a Patreon account: state bound to the account, single use, expiring; PKCE; one
account per Patreon user; my standing; unlinking; the supporters' wall."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx2
from fake_patreon import parse_location
from membership_testkit import Membership, new_ids, new_user_id

LINK = "/api/v1/user/membership/patreon/link"
CALLBACK = "/api/v1/support/patreon/callback"


def _outcome(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("https://app.test/support?"), location
    return parse_location(location)


async def test_linking_an_active_patron(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    user_id = new_user_id()
    assert (await m.client.get("/api/v1/user/membership", headers=m.headers(user_id))).json()["data"]["linked"] is False

    started = await m.client.post(LINK, headers=m.headers(user_id))
    assert started.status_code == 200
    url = urlsplit(started.json()["data"]["authorization_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{m.fake.url}/oauth2/authorize"
    assert query["response_type"] == "code" and query["client_id"] == m.fake.client_id
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == "http://membership.test/api/v1/support/patreon/callback"
    assert "identity.memberships" in query["scope"] and len(query["state"]) >= 40
    assert started.json()["data"]["expires_at"].endswith("Z")

    assert _outcome(await m.link(user_id, member.user_id)) == {"patreon": "linked"}
    exchange = m.fake.seen("/api/oauth2/token")[-1]
    assert exchange.status == 200, "the fake checked client, code, redirect URI and the PKCE verifier"

    mine = (await m.client.get("/api/v1/user/membership", headers=m.headers(user_id))).json()["data"]
    assert mine["linked"] is True and mine["active"] is True and mine["patron_status"] == "active_patron"
    assert mine["tier"] == {"id": "t-500", "title": "Regular", "amount_cents": 500}
    assert mine["since"] == "2023-02-08T16:36:58Z" and mine["patreon_user_id"] == member.user_id
    events = await m.outbox("membership.supporter.activated", patreon_user_id=member.user_id)
    assert events == [
        {
            "user_id": user_id,
            "patreon_user_id": member.user_id,
            "tier_id": "t-500",
            "amount_cents": 500,
            "patron_status": "active_patron",
        }
    ]


async def test_linking_a_supporter_the_webhooks_already_told_us_about(membership: Membership):
    m = membership
    member = m.member(["t-1500"], cents=1500)
    await m.deliver(member.member_id, "members:pledge:create")
    user_id = new_user_id()
    assert _outcome(await m.link(user_id, member.user_id)) == {"patreon": "linked"}
    events = await m.outbox("membership.supporter.activated", patreon_user_id=member.user_id)
    assert [e["user_id"] for e in events] == [None, user_id]
    assert events[1]["tier_id"] == "t-1500" and events[1]["amount_cents"] == 1500


async def test_a_patreon_account_links_to_one_of_our_accounts_only(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    first, second = new_user_id(), new_user_id()
    assert _outcome(await m.link(first, member.user_id)) == {"patreon": "linked"}
    assert _outcome(await m.link(second, member.user_id)) == {"patreon": "error", "reason": "already_linked"}
    second_view = (await m.client.get("/api/v1/user/membership", headers=m.headers(second))).json()["data"]
    assert second_view["linked"] is False
    # Linking the same pair again is fine; linking another Patreon account needs an unlink first.
    assert _outcome(await m.link(first, member.user_id)) == {"patreon": "linked"}
    other = m.member(["t-500"], cents=500)
    assert _outcome(await m.link(first, other.user_id)) == {"patreon": "error", "reason": "unlink_first"}


async def test_a_state_is_single_use_bound_and_expires(membership: Membership):
    m = membership
    member = m.member([], status=None)
    user_id = new_user_id()
    started = await m.client.post(LINK, headers=m.headers(user_id))
    m.fake.login_as = member.user_id
    async with httpx2.AsyncClient() as browser:
        at_patreon = await browser.get(started.json()["data"]["authorization_url"])
    back = parse_location(at_patreon.headers["location"])
    assert _outcome(await m.client.get(CALLBACK, params=back)) == {"patreon": "linked"}
    # The same callback replayed: the state is used up.
    assert _outcome(await m.client.get(CALLBACK, params=back)) == {"patreon": "error", "reason": "state_used"}
    # A state nobody issued, none at all, or Patreon reporting the member said no.
    forged = {"code": back["code"], "state": "x" * 43}
    assert _outcome(await m.client.get(CALLBACK, params=forged))["reason"] == "invalid_state"
    assert _outcome(await m.client.get(CALLBACK, params={"code": "abc"}))["reason"] == "invalid_state"
    started = await m.client.post(LINK, headers=m.headers(new_user_id()))
    state = parse_qs(urlsplit(started.json()["data"]["authorization_url"]).query)["state"][0]
    denied = await m.client.get(CALLBACK, params={"error": "access_denied", "state": state})
    assert _outcome(denied) == {"patreon": "error", "reason": "denied"}
    # An expired state.
    started = await m.client.post(LINK, headers=m.headers(new_user_id()))
    state = parse_qs(urlsplit(started.json()["data"]["authorization_url"]).query)["state"][0]
    from tdc_membership.linking import state_hash

    await m.db.execute(
        "UPDATE link_states SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE state_hash = %s",
        (state_hash(state),),
    )
    expired = await m.client.get(CALLBACK, params={"code": "whatever", "state": state})
    assert _outcome(expired) == {"patreon": "error", "reason": "state_expired"}
    # A code Patreon refuses (never issued): the exchange fails and nothing is linked.
    other_user = new_user_id()
    started = await m.client.post(LINK, headers=m.headers(other_user))
    state = parse_qs(urlsplit(started.json()["data"]["authorization_url"]).query)["state"][0]
    bad_code = await m.client.get(CALLBACK, params={"code": "never-issued", "state": state})
    assert _outcome(bad_code) == {"patreon": "error", "reason": "exchange_failed"}
    assert (await m.client.get("/api/v1/user/membership", headers=m.headers(other_user))).json()["data"][
        "linked"
    ] is False


async def test_linking_needs_a_signed_in_user(membership: Membership):
    m = membership
    assert (await m.client.post(LINK)).status_code == 401
    assert (await m.client.get("/api/v1/user/membership")).status_code == 401
    assert (await m.client.delete("/api/v1/user/membership/patreon")).status_code == 401
    bad = await m.client.get("/api/v1/user/membership", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["success"] is False


async def test_unlinking_an_active_supporter_ends_their_standing(membership: Membership):
    m = membership
    member = m.member(["t-500"], cents=500)
    user_id = new_user_id()
    await m.link(user_id, member.user_id)
    gone = await m.client.delete("/api/v1/user/membership/patreon", headers=m.headers(user_id))
    assert gone.status_code == 204
    assert await m.outbox("membership.supporter.deactivated", patreon_user_id=member.user_id) == [
        {
            "user_id": user_id,
            "patreon_user_id": member.user_id,
            "tier_id": "t-500",
            "amount_cents": 500,
            "patron_status": "active_patron",
        }
    ]
    assert (await m.client.get("/api/v1/user/membership", headers=m.headers(user_id))).json()["data"]["linked"] is False
    again = await m.client.delete("/api/v1/user/membership/patreon", headers=m.headers(user_id))
    assert again.status_code == 404 and again.json()["error"] == "No Patreon account is linked"
    # Patreon's record of the member stays (a webhook or sync keeps it true), unlinked.
    row = await m.supporter(member.user_id)
    assert row["user_id"] is None and row["is_active"] == 1


async def test_the_wall_shows_only_those_who_chose_it(membership: Membership):
    m = membership
    shown, hidden = m.member(["t-1500"], cents=1500), m.member(["t-500"], cents=500)
    shown_user, hidden_user = new_user_id(), new_user_id()
    await m.link(shown_user, shown.user_id)
    await m.link(hidden_user, hidden.user_id)
    wall = "/api/v1/user/membership/wall"
    chose = await m.client.put(
        wall, json={"show": True, "display_name": "Luna of the Cave", "show_tier": True}, headers=m.headers(shown_user)
    )
    assert chose.status_code == 200 and chose.json()["data"]["display_name"] == "Luna of the Cave"
    await m.client.put(wall, json={"show": False}, headers=m.headers(hidden_user))
    names = {}
    page = 1
    while True:
        response = await m.client.get("/api/v1/support/supporters", params={"page": page, "per_page": 100})
        assert response.status_code == 200
        for entry in response.json()["data"]:
            names[entry["display_name"]] = entry
        if page >= response.json()["meta"]["pagination"]["pages"]:
            break
        page += 1
    assert names["Luna of the Cave"] == {"display_name": "Luna of the Cave", "tier": "Night Owl"}
    assert hidden.full_name not in names
    assert all(set(e) <= {"display_name", "tier"} for e in names.values()), "no emails, no amounts"
    # Not linked: nothing to show; bad bodies: 422.
    nobody = await m.client.put(wall, json={"show": True}, headers=m.headers(new_user_id()))
    assert nobody.status_code == 409 and nobody.json()["error"] == "Link your Patreon account first"
    for body in ({}, {"show": "yes please"}, {"show": True, "display_name": ""}, {"show": True, "role": "admin"}):
        bad = await m.client.put(wall, json=body, headers=m.headers(shown_user))
        assert bad.status_code == 422, body


async def test_a_member_who_is_not_a_patron_links_without_standing(membership: Membership):
    m = membership
    member_id, patreon_user = new_ids()
    m.fake.add_user(patreon_user, "Just Curious", "curious@x.test")
    user_id = new_user_id()
    assert _outcome(await m.link(user_id, patreon_user)) == {"patreon": "linked"}
    mine = (await m.client.get("/api/v1/user/membership", headers=m.headers(user_id))).json()["data"]
    assert mine["linked"] is True and mine["active"] is False and mine["tier"] is None
    assert await m.outbox("membership.supporter.activated", patreon_user_id=patreon_user) == []
    assert member_id not in m.fake.members
