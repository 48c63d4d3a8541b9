"""The admin dashboard's auth section: account and session counts, admins only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from auth_testkit import Accounts

from tdc_auth.clock import utcnow
from tdc_auth.main import create_app
from tdc_auth.queries import sessions as session_queries
from tdc_auth.queries import users as user_queries

SUMMARY = "/api/v1/admin/users/summary"


@pytest.fixture
async def fresh(auth_settings, db_prefix: str) -> AsyncIterator[Accounts]:
    """The service on a schema of its own (dropped with the run's prefix): only the bootstrap admin exists
    at the start, so every count below is exact whatever the other tests have created."""
    settings = auth_settings.model_copy(update={"db_prefix": f"{db_prefix}sum{uuid.uuid4().hex[:6]}_"})
    app = create_app(settings, bus=False)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://auth.test") as client:
            yield Accounts(client, app)


async def summary(accounts: Accounts, headers: dict[str, str]) -> dict[str, Any]:
    response = await accounts.client.get(SUMMARY, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def assert_all_ints(value: Any, path: str = "data") -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            assert_all_ints(inner, f"{path}.{key}")
    else:
        assert type(value) is int, f"{path} is {value!r}"


async def patch_user(accounts: Accounts, admin: dict[str, Any], user_id: int, body: dict[str, Any]) -> None:
    response = await accounts.client.patch(f"/api/v1/admin/users/{user_id}", headers=admin["headers"], json=body)
    assert response.status_code == 200, response.text


async def test_counts_every_kind_of_account_and_session(fresh: Accounts):
    accounts, db = fresh, fresh.app.state.db
    admin = await accounts.admin()  # the bootstrap admin: verified, signs in now, one live session

    plain = await accounts.register()  # never signs in
    verified = await accounts.register()
    await db.execute("UPDATE users SET email_verified = 1 WHERE id = %s", (verified["id"],))
    for _ in range(2):
        staff = await accounts.register()
        await patch_user(accounts, admin, staff["id"], {"role": "staff"})
    second_admin = await accounts.register()
    await patch_user(accounts, admin, second_admin["id"], {"role": "admin"})

    disabled = await accounts.signed_in()
    await patch_user(accounts, admin, disabled["id"], {"is_active": False})  # also revokes its session
    logged_out = await accounts.signed_in()
    response = await accounts.client.post("/api/v1/auth/logout", json={"refresh_token": logged_out["refresh_token"]})
    assert response.status_code == 204
    expired = await accounts.signed_in()
    await db.execute("UPDATE sessions SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE user_id = %s", (expired["id"],))
    twice = await accounts.signed_in()  # two live sessions (two devices)
    await accounts.login(twice["email"], twice["password"])

    month_old = await accounts.register()  # registered 20 days ago, last signed in before that window
    await db.execute(
        "UPDATE users SET created_at = NOW(6) - INTERVAL 20 DAY, last_login_at = NOW(6) - INTERVAL 40 DAY "
        "WHERE id = %s",
        (month_old["id"],),
    )
    ancient = await accounts.register()  # registered long ago, signed in 29 days ago
    await db.execute(
        "UPDATE users SET created_at = NOW(6) - INTERVAL 45 DAY, last_login_at = NOW(6) - INTERVAL 29 DAY "
        "WHERE id = %s",
        (ancient["id"],),
    )
    assert plain["email_verified"] is False and plain["role"] == "user"

    data = await summary(accounts, admin["headers"])
    assert data == {
        "users": {
            "total": 12,
            "active": 11,
            "disabled": 1,
            "email_verified": 2,  # the bootstrap admin and `verified`
            "by_role": {"user": 8, "staff": 2, "admin": 2},
            "registered_last_7_days": 10,
            "registered_last_30_days": 11,
            # bootstrap admin, disabled, logged_out, expired, twice, ancient
            "signed_in_last_30_days": 6,
        },
        # the admin's own and twice's two; the disabled, logged-out and expired ones are over
        "sessions": {"active": 3},
    }
    assert_all_ints(data)


async def test_empty_roles_are_zero_not_missing(fresh: Accounts):
    admin = await fresh.admin()
    data = await summary(fresh, admin["headers"])
    assert data["users"]["by_role"] == {"user": 0, "staff": 0, "admin": 1}
    assert data["users"]["disabled"] == 0
    assert data["sessions"] == {"active": 1}
    assert_all_ints(data)


async def test_windows_follow_the_service_clock(fresh: Accounts, monkeypatch: pytest.MonkeyPatch):
    admin = await fresh.admin()
    await fresh.signed_in()

    def at(days: int) -> None:
        later = utcnow() + timedelta(days=days)
        monkeypatch.setattr(user_queries, "utcnow", lambda: later)
        monkeypatch.setattr(session_queries, "utcnow", lambda: later)

    at(8)
    data = await summary(fresh, admin["headers"])
    assert data["users"]["registered_last_7_days"] == 0
    assert data["users"]["registered_last_30_days"] == 2
    assert data["users"]["signed_in_last_30_days"] == 2
    assert data["sessions"] == {"active": 2}

    # Past 30 days: the windows are empty and the sessions have reached their absolute end (30 days).
    at(31)
    data = await summary(fresh, admin["headers"])
    assert data["users"]["total"] == 2 and data["users"]["active"] == 2
    assert data["users"]["registered_last_30_days"] == 0
    assert data["users"]["signed_in_last_30_days"] == 0
    assert data["sessions"] == {"active": 0}


async def test_summary_needs_an_active_admin(fresh: Accounts):
    accounts, client = fresh, fresh.client
    admin = await accounts.admin()

    response = await client.get(SUMMARY)
    assert response.status_code == 401
    response = await client.get(SUMMARY, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401

    user = await accounts.signed_in()
    response = await client.get(SUMMARY, headers=user["headers"])
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "Admin access required"}

    staff = await accounts.register()
    await patch_user(accounts, admin, staff["id"], {"role": "staff"})
    staff_tokens = await accounts.login(staff["email"], staff["password"])
    assert staff_tokens["user"]["role"] == "staff"
    response = await client.get(SUMMARY, headers={"Authorization": f"Bearer {staff_tokens['access_token']}"})
    assert response.status_code == 403

    # Tokens that still say admin: the stored account decides (active_admin), as on the other admin routes.
    demoted = await accounts.register()
    await patch_user(accounts, admin, demoted["id"], {"role": "admin"})
    demoted_tokens = await accounts.login(demoted["email"], demoted["password"])
    demoted_headers = {"Authorization": f"Bearer {demoted_tokens['access_token']}"}
    assert (await client.get(SUMMARY, headers=demoted_headers)).status_code == 200
    await patch_user(accounts, admin, demoted["id"], {"role": "user"})
    # The token that still says admin is revoked with the role; a new one says user and gets 403.
    response = await client.get(SUMMARY, headers=demoted_headers)
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Token has been revoked"}
    fresh = await accounts.login(demoted["email"], demoted["password"])
    response = await client.get(SUMMARY, headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "Admin access required"}

    disabled = await accounts.register()
    await patch_user(accounts, admin, disabled["id"], {"role": "admin"})
    disabled_tokens = await accounts.login(disabled["email"], disabled["password"])
    disabled_headers = {"Authorization": f"Bearer {disabled_tokens['access_token']}"}
    assert (await client.get(SUMMARY, headers=disabled_headers)).status_code == 200
    await patch_user(accounts, admin, disabled["id"], {"is_active": False})
    # A disabled account is no longer signed in at all: its tokens are revoked, 401 like every other admin route.
    response = await client.get(SUMMARY, headers=disabled_headers)
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Token has been revoked"}


async def test_summary_is_not_taken_for_a_user_id(client: httpx2.AsyncClient, accounts: Accounts):
    """On the shared app: `/summary` sits before `/{user_id}`, and that route still answers for ids."""
    admin = await accounts.admin()
    response = await client.get(SUMMARY, headers=admin["headers"])
    assert response.status_code == 200
    assert set(response.json()["data"]) == {"users", "sessions"}
    response = await client.get(f"/api/v1/admin/users/{admin['user']['id']}", headers=admin["headers"])
    assert response.status_code == 200 and response.json()["data"]["id"] == admin["user"]["id"]
    assert (await client.get("/api/v1/admin/users/summaries", headers=admin["headers"])).status_code == 422
