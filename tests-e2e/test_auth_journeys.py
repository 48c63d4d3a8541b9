"""Auth journeys through the gateway: sign-up with the emailed token read off the bus, sessions,
refresh rotation and reuse, forged tokens, another user's data, admin user management."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tdc_auth.keys import KeyRing, access_token_claims
from tdc_auth.settings import AuthSettings

if TYPE_CHECKING:
    from conftest import BusListener

pytestmark = pytest.mark.e2e

PASSWORD = "night owls at the cave"


def email() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up(api: httpx2.AsyncClient, bus: BusListener) -> dict[str, Any]:
    address = email()
    response = await api.post(
        "/api/v1/auth/register",
        json={"email": address, "username": f"e2e_{uuid.uuid4().hex[:10]}", "password": PASSWORD},
    )
    # The answer is "check your mail" whether or not the address had an account: the new account's
    # id comes off the bus.
    assert response.status_code == 202, response.text
    registered = await bus.expect("auth.user.registered", email=address)
    user = {"id": registered["data"]["user_id"], "email": address, "username": registered["data"]["username"]}
    mail = await bus.expect("auth.email_verification.requested", user_id=user["id"])
    return {**user, "verification_token": mail["data"]["token"]}


async def log_in(api: httpx2.AsyncClient, address: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await api.post("/api/v1/auth/login", json={"email": address, "password": password})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return {**data, "headers": {"Authorization": f"Bearer {data['access_token']}"}}


async def test_sign_up_verify_sign_in_refresh_and_sign_out(api: httpx2.AsyncClient, bus: BusListener):
    user = await sign_up(api, bus)
    registered = await bus.expect("auth.user.registered", user_id=user["id"])
    assert registered["source"] == "auth" and registered["data"]["email"] == user["email"]

    verified = await api.post("/api/v1/auth/verify-email", json={"token": user["verification_token"]})
    assert verified.status_code == 200 and verified.json()["data"]["email_verified"] is True

    session = await log_in(api, user["email"])
    profile = await api.get("/api/v1/user/profile", headers=session["headers"])
    assert profile.status_code == 200 and profile.json()["data"]["email_verified"] is True

    rotated = await api.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200
    fresh = rotated.json()["data"]
    reused = await api.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert reused.status_code == 401 and reused.json()["success"] is False
    # Reuse revoked the family: the token handed out by the rotation is dead as well.
    assert (await api.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})).status_code == 401

    again = await log_in(api, user["email"])
    out = await api.post("/api/v1/auth/logout", json={"refresh_token": again["refresh_token"]})
    assert out.status_code == 204
    assert (await api.post("/api/v1/auth/refresh", json={"refresh_token": again["refresh_token"]})).status_code == 401


async def test_unknown_email_and_wrong_password_look_the_same(api: httpx2.AsyncClient, bus: BusListener):
    user = await sign_up(api, bus)
    wrong = await api.post("/api/v1/auth/login", json={"email": user["email"], "password": "wrong password here"})
    unknown = await api.post("/api/v1/auth/login", json={"email": email(), "password": "wrong password here"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"success": False, "error": "Invalid email or password"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_forged_tokens_are_refused(stack, api: httpx2.AsyncClient, bus: BusListener):
    user = await sign_up(api, bus)
    session = await log_in(api, user["email"])
    settings = AuthSettings(env="test", auth_signing_keys_dir=stack.env.get("TDC_AUTH_SIGNING_KEYS_DIR", ""))
    ring = KeyRing.from_settings(settings)
    published = (await api.get("/api/v1/auth/jwks.json")).json()["data"]["keys"]
    assert ring.current.kid in {k["kid"] for k in published}, "the test must sign with the stack's own key"

    def signed(**overrides: Any) -> str:
        claims = access_token_claims(settings, user_id=user["id"], role="user", session_id="0" * 32, patreon_tier=None)
        return ring.sign({**claims, **overrides})

    head, body, signature = session["access_token"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    public_pem = jwt.PyJWK(next(k for k in published if k["kid"] == ring.current.kid)).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': ring.current.kid}).encode())}.{body}"
    now = int(time.time())
    forged = {
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'kid': ring.current.kid}).encode())}.{body}.",
        "HS256 with the public key": f"{hs_input}.{_b64(hmac.digest(public_pem, hs_input.encode(), hashlib.sha256))}",
        "expired": signed(iat=now - 3600, exp=now - 60),
        "wrong iss": signed(iss="https://elsewhere.example/auth"),
        "wrong aud": signed(aud="another-api"),
        "payload tampered": f"{head}.{_b64(json.dumps({**payload, 'role': 'admin'}).encode())}.{signature}",
        "refresh token as access token": session["refresh_token"],
    }
    for name, token in forged.items():
        response = await api.get("/api/v1/user/profile", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["success"] is False, name
        # The service itself refuses them as well, not only the gateway in front of it.
        direct = await api.get(
            f"{stack.service_url('auth')}/api/v1/user/profile", headers={"Authorization": f"Bearer {token}"}
        )
        assert direct.status_code == 401, name
    assert (await api.get("/api/v1/user/profile", headers=session["headers"])).status_code == 200


async def test_one_user_cannot_touch_another_users_sessions_or_profile(api: httpx2.AsyncClient, bus: BusListener):
    alice = await sign_up(api, bus)
    bob = await sign_up(api, bus)
    alice_session = await log_in(api, alice["email"])
    bob_session = await log_in(api, bob["email"])
    alice_sessions = (await api.get("/api/v1/user/sessions", headers=alice_session["headers"])).json()["data"]
    target = alice_sessions[0]["id"]
    stolen = await api.delete(f"/api/v1/user/sessions/{target}", headers=bob_session["headers"])
    assert stolen.status_code == 404
    assert (
        await api.post("/api/v1/auth/refresh", json={"refresh_token": alice_session["refresh_token"]})
    ).status_code == 200
    changed = await api.patch("/api/v1/user/profile", headers=bob_session["headers"], json={"display_name": "Bob"})
    assert changed.status_code == 200 and changed.json()["data"]["id"] == bob["id"]
    alice_profile = (await api.get("/api/v1/user/profile", headers=alice_session["headers"])).json()["data"]
    assert alice_profile["display_name"] is None
    escalate = await api.patch("/api/v1/user/profile", headers=bob_session["headers"], json={"role": "admin"})
    assert escalate.status_code == 422


async def test_admin_promotes_and_disables_a_user(stack, api: httpx2.AsyncClient, bus: BusListener):
    user = await sign_up(api, bus)
    user_session = await log_in(api, user["email"])
    assert (await api.get("/api/v1/admin/users", headers=user_session["headers"])).status_code == 403

    admin = await log_in(api, stack.admin_email, stack.admin_password)
    found = await api.get("/api/v1/admin/users", headers=admin["headers"], params={"q": user["email"]})
    assert found.status_code == 200 and [u["id"] for u in found.json()["data"]] == [user["id"]]
    assert found.json()["meta"]["pagination"]["total"] == 1

    promoted = await api.patch(f"/api/v1/admin/users/{user['id']}", headers=admin["headers"], json={"role": "staff"})
    assert promoted.status_code == 200 and promoted.json()["data"]["role"] == "staff"
    change = await bus.expect("auth.user.role_changed", user_id=user["id"])
    assert change["data"] == {"user_id": user["id"], "old_role": "user", "new_role": "staff"}

    disabled = await api.patch(f"/api/v1/admin/users/{user['id']}", headers=admin["headers"], json={"is_active": False})
    assert disabled.status_code == 200
    await bus.expect("auth.user.updated", user_id=user["id"], is_active=False)
    refresh = await api.post("/api/v1/auth/refresh", json={"refresh_token": user_session["refresh_token"]})
    assert refresh.status_code == 401
    login = await api.post("/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert login.status_code == 403


async def test_password_reset_through_the_mail_event(api: httpx2.AsyncClient, bus: BusListener):
    user = await sign_up(api, bus)
    session = await log_in(api, user["email"])
    response = await api.post("/api/v1/auth/forgot-password", json={"email": user["email"]})
    assert response.status_code == 202
    mail = await bus.expect("auth.password_reset.requested", user_id=user["id"])
    reset = await api.post(
        "/api/v1/auth/reset-password", json={"token": mail["data"]["token"], "password": "the new night password"}
    )
    assert reset.status_code == 200
    assert (await api.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})).status_code == 401
    await log_in(api, user["email"], "the new night password")
