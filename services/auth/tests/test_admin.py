"""Admin user management and the bootstrap admin."""

from __future__ import annotations

import asyncio

import httpx2
from auth_testkit import ADMIN_EMAIL, Accounts, unique_email
from fastapi import FastAPI

from tdc_auth.bootstrap import ensure_user


async def test_admin_routes_need_the_admin_role(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    for method, path in (("GET", "/api/v1/admin/users"), ("GET", "/api/v1/admin/users/1")):
        response = await client.request(method, path, headers=me["headers"])
        assert response.status_code == 403, path
        assert response.json() == {"success": False, "error": "Admin access required"}
    response = await client.patch("/api/v1/admin/users/1", headers=me["headers"], json={"role": "admin"})
    assert response.status_code == 403
    assert (await client.get("/api/v1/admin/users")).status_code == 401


async def test_search_and_paginate(client: httpx2.AsyncClient, accounts: Accounts):
    admin = await accounts.admin()
    tag = unique_email("findme").split("@")[0]
    for n in range(3):
        await accounts.register(email=f"{tag}.{n}@example.com")
    response = await client.get("/api/v1/admin/users", headers=admin["headers"], params={"q": tag, "per_page": 2})
    body = response.json()
    assert response.status_code == 200 and len(body["data"]) == 2
    pagination = body["meta"]["pagination"]
    assert {k: pagination[k] for k in ("page", "per_page", "total", "total_exact", "pages", "has_more")} == {
        "page": 1,
        "per_page": 2,
        "total": 3,
        "total_exact": True,
        "pages": 2,
        "has_more": True,
    }
    page2 = await client.get(
        "/api/v1/admin/users", headers=admin["headers"], params={"q": tag, "per_page": 2, "page": 2}
    )
    assert len(page2.json()["data"]) == 1
    assert all("password_hash" not in u for u in body["data"])
    wildcard = await client.get("/api/v1/admin/users", headers=admin["headers"], params={"q": "%"})
    assert wildcard.json()["meta"]["pagination"]["total"] == 0
    bad = await client.get("/api/v1/admin/users", headers=admin["headers"], params={"per_page": 1000})
    assert bad.status_code == 422


async def test_change_role_and_disable(client: httpx2.AsyncClient, accounts: Accounts):
    admin = await accounts.admin()
    user = await accounts.signed_in()
    response = await client.patch(f"/api/v1/admin/users/{user['id']}", headers=admin["headers"], json={"role": "staff"})
    assert response.status_code == 200 and response.json()["data"]["role"] == "staff"
    changed = await accounts.events("auth.user.role_changed", user_id=user["id"])
    assert changed[-1]["data"] == {"user_id": user["id"], "old_role": "user", "new_role": "staff"}
    # The next refresh carries the new role.
    client.cookies.clear()
    refreshed = (await client.post("/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]})).json()
    assert refreshed["data"]["user"]["role"] == "staff"

    response = await client.patch(
        f"/api/v1/admin/users/{user['id']}", headers=admin["headers"], json={"is_active": False}
    )
    assert response.status_code == 200 and response.json()["data"]["is_active"] is False
    assert (await accounts.events("auth.user.updated", user_id=user["id"]))[-1]["data"]["is_active"] is False
    client.cookies.clear()
    dead = await client.post("/api/v1/auth/refresh", json={"refresh_token": refreshed["data"]["refresh_token"]})
    assert dead.status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": user["password"]})
    assert login.status_code == 403 and login.json()["error"] == "This account has been disabled"
    assert (await client.get("/api/v1/user/profile", headers=user["headers"])).status_code == 401


async def test_admin_patch_bad_inputs(client: httpx2.AsyncClient, accounts: Accounts):
    admin = await accounts.admin()
    user = await accounts.register()
    for body in ({"role": "superuser"}, {"email": "x@example.com"}, {"is_active": "maybe"}):
        response = await client.patch(f"/api/v1/admin/users/{user['id']}", headers=admin["headers"], json=body)
        assert response.status_code == 422, body
    assert (await client.get("/api/v1/admin/users/999999999", headers=admin["headers"])).status_code == 404
    assert (await client.get("/api/v1/admin/users/abc", headers=admin["headers"])).status_code == 422
    assert (await client.get(f"/api/v1/admin/users/{user['id']}", headers=admin["headers"])).status_code == 200


async def test_last_active_admin_stays(client: httpx2.AsyncClient, accounts: Accounts, auth_app: FastAPI):
    admin = await accounts.admin()
    admin_id = admin["user"]["id"]
    others = await auth_app.state.db.fetch_value(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active = 1 AND id <> %s", (admin_id,)
    )
    assert others == 0
    for body in ({"role": "user"}, {"is_active": False}):
        response = await client.patch(f"/api/v1/admin/users/{admin_id}", headers=admin["headers"], json=body)
        assert response.status_code == 409 and response.json()["error"] == "At least one active admin must remain"
    assert (await client.delete("/api/v1/user", headers=admin["headers"])).status_code == 409


async def test_bootstrap_admin_exists_once(auth_app: FastAPI):
    db = auth_app.state.db
    assert await db.fetch_value("SELECT COUNT(*) FROM users WHERE email = %s AND role = 'admin'", (ADMIN_EMAIL,)) == 1
    # Two replicas starting at once: one creates the account, the other finds it, neither fails.
    email = unique_email("replica")
    ctx = auth_app.state.auth
    results = await asyncio.gather(
        *(ensure_user(db, ctx, email=email, password="replica secret pw", role="user") for _ in range(4))
    )
    assert sorted(results) == [False, False, False, True]
    assert await db.fetch_value("SELECT COUNT(*) FROM users WHERE email = %s", (email,)) == 1


async def test_demo_users_only_with_demo_data(auth_settings, auth_app: FastAPI):
    from tdc_auth.bootstrap import DEMO_USERS
    from tdc_auth.main import create_app

    db = auth_app.state.db
    emails = [email for email, *_ in DEMO_USERS]
    count = "SELECT COUNT(*) FROM users WHERE email IN (%s, %s)"
    assert await db.fetch_value(count, emails) == 0
    demo_app = create_app(auth_settings.model_copy(update={"demo_data": True}), bus=False)
    for _ in range(2):  # a restart adds nothing
        async with demo_app.router.lifespan_context(demo_app):
            transport = httpx2.ASGITransport(app=demo_app)
            async with httpx2.AsyncClient(transport=transport, base_url="https://auth.test") as client:
                for email, username, role, password in DEMO_USERS:
                    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
                    assert response.status_code == 200, email
                    assert (response.json()["data"]["user"]["role"], response.json()["data"]["user"]["username"]) == (
                        role,
                        username,
                    )
    assert await db.fetch_value(count, emails) == 2
    await db.execute("DELETE FROM users WHERE email IN (%s, %s)", emails)
