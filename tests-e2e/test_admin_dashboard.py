"""The admin dashboard through the gateway: figures composed from the auth and catalog services,
current after each change, and closed to everyone but admins."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.e2e


async def login(api: httpx2.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await api.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


async def dashboard(api: httpx2.AsyncClient, admin: dict[str, str], **params: str) -> dict[str, Any]:
    response = await api.get("/api/v1/admin/dashboard", headers=admin, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["sections"] == {
        "users": {"status": "ok", "service": "auth"},
        "catalog": {"status": "ok", "service": "catalog"},
        "membership": {"status": "ok", "service": "membership"},
        "notifications": {"status": "ok", "service": "notification"},
        "blog": {"status": "ok", "service": "blog"},
        "integrations": {"status": "ok", "service": "integration"},
    }
    return body["data"]


async def test_the_dashboard_counts_what_happens_across_services(stack, api: httpx2.AsyncClient) -> None:
    admin = await login(api, stack.admin_email, stack.admin_password)
    before = await dashboard(api, admin)

    password = f"pw-{uuid.uuid4().hex}"
    email = f"dash-{uuid.uuid4().hex[:10]}@example.com"
    registered = await api.post(
        "/api/v1/auth/register",
        json={"email": email, "username": f"dash_{uuid.uuid4().hex[:10]}", "password": password},
    )
    assert registered.status_code == 202, registered.text
    slug = f"dash-night-{uuid.uuid4().hex[:8]}"
    draft = await api.post(
        "/api/v1/admin/events",
        headers=admin,
        json={"slug": slug, "title": "Dashboard Night", "start": "2031-10-01T20:00:00", "end": "2031-10-01T23:00:00"},
    )
    assert draft.status_code == 201, draft.text

    after = await dashboard(api, admin, lang="it")
    users_before, users_after = before["users"]["users"], after["users"]["users"]
    assert users_after["total"] == users_before["total"] + 1
    assert users_after["by_role"]["user"] == users_before["by_role"]["user"] + 1
    assert users_after["registered_last_7_days"] == users_before["registered_last_7_days"] + 1
    # The admin's own sign-in just now is a live session.
    assert after["users"]["sessions"]["active"] >= 1
    drafts_before = before["catalog"]["events"]["by_status"]["draft"]
    assert after["catalog"]["events"]["by_status"]["draft"] == drafts_before + 1

    visitor = await login(api, email, password)
    refused = await api.get("/api/v1/admin/dashboard", headers=visitor)
    assert refused.status_code == 403
    assert refused.json() == {"success": False, "error": "Admin access required"}
    anonymous = await api.get("/api/v1/admin/dashboard")
    assert anonymous.status_code == 401
    assert anonymous.json()["success"] is False
