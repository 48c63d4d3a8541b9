"""The signed-in user's own account; nobody reaches another user's profile or sessions."""

from __future__ import annotations

import httpx2
from auth_testkit import Accounts, unique_username


async def test_read_and_change_profile(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    name = unique_username("new")
    response = await client.patch(
        "/api/v1/user/profile",
        headers=me["headers"],
        json={
            "username": name,
            "display_name": "Luna Dreamer",
            "language": "fr",
            "avatar_url": "https://cdn.example.com/a.png",
            "sl_avatar_name": "Luna Resident",
        },
    )
    assert response.status_code == 200
    profile = response.json()["data"]
    assert (profile["username"], profile["display_name"], profile["language"]) == (name, "Luna Dreamer", "fr")
    assert profile["sl_avatar_name"] == "Luna Resident"
    event = (await accounts.events("auth.user.updated", user_id=me["id"]))[-1]["data"]
    assert event["username"] == name and event["language"] == "fr"
    read = await client.get("/api/v1/user/profile", headers=me["headers"])
    assert read.json()["data"] == profile
    cleared = await client.patch("/api/v1/user/profile", headers=me["headers"], json={"display_name": None})
    assert cleared.json()["data"]["display_name"] is None


async def test_profile_refuses_privileged_and_invalid_fields(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    for body, field, message in (
        ({"role": "admin"}, "role", "unknown field"),
        ({"email_verified": True}, "email_verified", "unknown field"),
        ({"email": "x@example.com"}, "email", "unknown field"),
        ({"username": None}, "username", "may not be null"),
    ):
        response = await client.patch("/api/v1/user/profile", headers=me["headers"], json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"] == {field: [message]}, body
    for body in (
        {"language": "de"},
        {"avatar_url": "javascript:alert(1)"},
        {"sl_avatar_name": "<b>"},
        # A trailing line break passes a `^...$` pattern under re.match; it must not pass here.
        {"username": "night_owl\n"},
        {"avatar_url": "https://cdn.example.com/a.png\n"},
        {"sl_avatar_name": "Luna Resident\n"},
    ):
        response = await client.patch("/api/v1/user/profile", headers=me["headers"], json=body)
        assert response.status_code == 422 and set(response.json()["errors"]) == set(body), body
    profile = (await client.get("/api/v1/user/profile", headers=me["headers"])).json()["data"]
    assert profile["role"] == "user" and profile["email_verified"] is False


async def test_username_taken_is_409(client: httpx2.AsyncClient, accounts: Accounts):
    one, two = await accounts.signed_in(), await accounts.signed_in()
    response = await client.patch("/api/v1/user/profile", headers=two["headers"], json={"username": one["username"]})
    assert response.status_code == 409 and response.json()["errors"] == {"username": ["is already taken"]}


async def test_profile_needs_a_token(client: httpx2.AsyncClient):
    response = await client.get("/api/v1/user/profile")
    assert response.status_code == 401 and response.json() == {"success": False, "error": "Authentication required"}
    response = await client.get("/api/v1/user/profile", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


async def test_change_password(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    other_device = await accounts.login(me["email"], me["password"])
    wrong = await client.post(
        "/api/v1/user/password",
        headers=me["headers"],
        json={"current_password": "not it at all", "new_password": "a better secret"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"] == {"current_password": ["is incorrect"]}
    weak = await client.post(
        "/api/v1/user/password", headers=me["headers"], json={"current_password": me["password"], "new_password": "x"}
    )
    assert weak.status_code == 422 and set(weak.json()["errors"]) == {"new_password"}
    response = await client.post(
        "/api/v1/user/password",
        headers=me["headers"],
        json={"current_password": me["password"], "new_password": "a better secret"},
    )
    assert response.status_code == 204
    await accounts.login(me["email"], "a better secret")
    client.cookies.clear()
    # Other sessions end; the one that made the change goes on.
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": other_device["refresh_token"]})
    ).status_code == 401
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})).status_code == 200


async def test_sessions_are_listed_and_ended_by_their_owner_only(client: httpx2.AsyncClient, accounts: Accounts):
    alice = await accounts.signed_in()
    bob = await accounts.signed_in()
    second = await accounts.login(alice["email"], alice["password"])
    listed = (await client.get("/api/v1/user/sessions", headers=alice["headers"])).json()["data"]
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    bob_sessions = (await client.get("/api/v1/user/sessions", headers=bob["headers"])).json()["data"]
    assert {s["id"] for s in bob_sessions}.isdisjoint({s["id"] for s in listed})
    # Bob cannot end Alice's session: it answers like a session that does not exist.
    response = await client.delete(f"/api/v1/user/sessions/{other['id']}", headers=bob["headers"])
    assert response.status_code == 404 and response.json() == {"success": False, "error": "Session not found"}
    client.cookies.clear()
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    ).status_code == 200
    response = await client.delete(f"/api/v1/user/sessions/{other['id']}", headers=alice["headers"])
    assert response.status_code == 204
    assert len((await client.get("/api/v1/user/sessions", headers=alice["headers"])).json()["data"]) == 1
    assert (await client.delete("/api/v1/user/sessions/nope", headers=alice["headers"])).status_code == 404


async def test_profile_change_touches_only_the_callers_account(client: httpx2.AsyncClient, accounts: Accounts):
    alice = await accounts.signed_in()
    bob = await accounts.signed_in()
    await client.patch("/api/v1/user/profile", headers=bob["headers"], json={"display_name": "Bob"})
    alice_profile = (await client.get("/api/v1/user/profile", headers=alice["headers"])).json()["data"]
    assert alice_profile["display_name"] is None and alice_profile["id"] == alice["id"]
    # There is no way to name another user on these routes: an id in the body is refused.
    response = await client.patch("/api/v1/user/profile", headers=bob["headers"], json={"id": alice["id"]})
    assert response.status_code == 422
    response = await client.get(f"/api/v1/user/profile/{alice['id']}", headers=bob["headers"])
    assert response.status_code == 404


async def test_delete_account_erases_and_emits(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    response = await client.delete("/api/v1/user", headers=me["headers"])
    assert response.status_code == 204
    assert (await accounts.events("auth.user.deleted", user_id=me["id"]))[0]["data"] == {"user_id": me["id"]}
    assert await accounts.app.state.db.fetch_value("SELECT COUNT(*) FROM users WHERE id = %s", (me["id"],)) == 0
    assert (await client.get("/api/v1/user/profile", headers=me["headers"])).status_code == 401
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": me["email"], "password": me["password"]})
    assert login.status_code == 401
