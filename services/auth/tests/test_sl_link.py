"""Linking a Second Life avatar: the one-time code, the link integration announces, the profile, unlinking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx2
from auth_testkit import Accounts

from tdc_auth.handlers import handlers
from tdc_auth.routes.sl_link import code_hash
from tdc_shared.events import Event

LINK = "/api/v1/user/sl-link"


async def linked(app, user_id: int, key: str, name: str = "Dream Walker", when: datetime | None = None) -> None:  # type: ignore[no-untyped-def]
    event = Event(
        type="integration.sl.avatar_linked",
        source="integration",
        data={
            "user_id": user_id,
            "avatar_key": key,
            "avatar_name": name,
            "linked_at": (when or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        },
    )
    async with app.state.db.transaction() as tx:
        for handler in handlers.handlers_for(event.type):
            await handler(tx, event)


async def test_a_code_is_issued_once_per_request_and_only_its_hash_travels(
    client: httpx2.AsyncClient, accounts: Accounts
):
    me = await accounts.signed_in()
    response = await client.post(LINK, headers=me["headers"])
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert len(data["code"]) == 11 and data["expires_in"] == 600
    second = (await client.post(LINK, headers=me["headers"])).json()["data"]["code"]
    assert second != data["code"]
    issued = await accounts.events("auth.sl_link.code_issued", user_id=me["user"]["id"])
    assert [e["data"]["code_hash"] for e in issued] == [code_hash(data["code"]), code_hash(second)]
    assert issued[0]["data"]["expires_at"] == data["expires_at"]
    assert all(data["code"] not in str(e) for e in issued)
    assert code_hash(data["code"].lower().replace("-", "")) == code_hash(data["code"])
    assert (await client.post(LINK)).status_code == 401


async def test_the_linked_avatar_shows_on_the_profile_and_can_be_unlinked(
    client: httpx2.AsyncClient, accounts: Accounts
):
    me = await accounts.signed_in()
    profile = (await client.get("/api/v1/user/profile", headers=me["headers"])).json()["data"]
    assert profile["sl_avatar"] is None
    key = str(uuid.uuid4())
    when = datetime(2031, 5, 1, 20, 0, tzinfo=UTC)
    await linked(accounts.app, me["user"]["id"], key, when=when)
    profile = (await client.get("/api/v1/user/profile", headers=me["headers"])).json()["data"]
    assert profile["sl_avatar"] == {"key": key, "name": "Dream Walker", "linked_at": "2031-05-01T20:00:00Z"}
    # An older announcement arriving late does not replace it.
    await linked(accounts.app, me["user"]["id"], str(uuid.uuid4()), name="Old Name", when=when - timedelta(days=1))
    profile = (await client.get("/api/v1/user/profile", headers=me["headers"])).json()["data"]
    assert profile["sl_avatar"]["key"] == key
    assert (await client.delete(LINK, headers=me["headers"])).status_code == 204
    profile = (await client.get("/api/v1/user/profile", headers=me["headers"])).json()["data"]
    assert profile["sl_avatar"] is None
    again = await client.delete(LINK, headers=me["headers"])
    assert again.status_code == 404 and again.json()["success"] is False


async def test_an_avatar_belongs_to_one_account_and_bad_events_are_ignored(
    client: httpx2.AsyncClient, accounts: Accounts
):
    first, second = await accounts.signed_in(), await accounts.signed_in()
    key = str(uuid.uuid4())
    await linked(accounts.app, first["user"]["id"], key)
    await linked(accounts.app, second["user"]["id"], key)
    one = (await client.get("/api/v1/user/profile", headers=first["headers"])).json()["data"]
    two = (await client.get("/api/v1/user/profile", headers=second["headers"])).json()["data"]
    assert one["sl_avatar"] is None and two["sl_avatar"]["key"] == key
    await linked(accounts.app, first["user"]["id"], "not-a-key")
    await linked(accounts.app, first["user"]["id"], str(uuid.uuid4()), name="")
    one = (await client.get("/api/v1/user/profile", headers=first["headers"])).json()["data"]
    assert one["sl_avatar"] is None
