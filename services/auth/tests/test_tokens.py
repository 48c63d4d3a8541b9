"""Access tokens rejected by the running service, refresh rotation and reuse, sign-out, JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx2
import jwt
import pytest
from auth_testkit import Accounts
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from tdc_auth.context import AuthContext
from tdc_auth.keys import access_token_claims
from tdc_auth.settings import AuthSettings


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, payload: dict, signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    return f"{head}.{body}.{b64(signature)}"


def claims_for(settings: AuthSettings, user_id: int, **overrides) -> dict:
    claims = access_token_claims(settings, user_id=user_id, role="user", session_id="x" * 32, patreon_tier=None)
    claims.update(overrides)
    return claims


@pytest.fixture
def ctx(auth_app: FastAPI) -> AuthContext:
    return auth_app.state.auth


async def profile_status(client: httpx2.AsyncClient, token: str) -> httpx2.Response:
    return await client.get("/api/v1/user/profile", headers={"Authorization": f"Bearer {token}"})


async def test_valid_token_reads_profile(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    response = await client.get("/api/v1/user/profile", headers=me["headers"])
    assert response.status_code == 200 and response.json()["data"]["id"] == me["id"]
    claims = jwt.decode(me["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"sub", "role", "iss", "aud", "exp", "iat", "jti"}
    assert claims["exp"] - claims["iat"] == 900 and claims["sub"] == str(me["id"])


async def test_forged_and_invalid_tokens_are_401(
    client: httpx2.AsyncClient, accounts: Accounts, ctx: AuthContext, auth_settings: AuthSettings
):
    me = await accounts.signed_in()
    user_id = me["id"]
    key = ctx.keys.current
    good = me["access_token"]
    head, body, signature = good.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))

    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    hs_signing_input = f"{b64(json.dumps(hs_header).encode())}.{b64(json.dumps(payload).encode())}"
    hs256_with_public_key = (
        f"{hs_signing_input}.{b64(hmac.new(public_pem, hs_signing_input.encode(), hashlib.sha256).digest())}"
    )

    tampered_payload = {**payload, "role": "admin"}
    tampered = f"{head}.{b64(json.dumps(tampered_payload).encode())}.{signature}"

    cases = {
        "alg none": unsigned({"alg": "none", "typ": "JWT", "kid": key.kid}, payload),
        "HS256 signed with the public key": hs256_with_public_key,
        "expired": ctx.keys.sign(
            claims_for(auth_settings, user_id, iat=int(time.time()) - 3600, exp=int(time.time()) - 60)
        ),
        "wrong iss": ctx.keys.sign(claims_for(auth_settings, user_id, iss="https://evil.example/auth")),
        "wrong aud": ctx.keys.sign(claims_for(auth_settings, user_id, aud="someone-else")),
        "payload tampered": tampered,
        "refresh token as access token": me["refresh_token"],
        "missing jti": ctx.keys.sign({k: v for k, v in claims_for(auth_settings, user_id).items() if k != "jti"}),
        "garbage": "not.a.token",
    }
    for name, token in cases.items():
        response = await profile_status(client, token)
        assert response.status_code == 401, name
        assert response.json()["success"] is False, name
        assert response.headers["www-authenticate"] == "Bearer", name
    # The untouched token still works, so each rejection above is about the forgery alone.
    assert (await profile_status(client, good)).status_code == 200


async def test_token_of_another_signer_is_401(client: httpx2.AsyncClient, signing_key, auth_settings: AuthSettings):
    token = signing_key.token(sub=1, iss=auth_settings.jwt_issuer, aud=auth_settings.jwt_audience)
    assert (await profile_status(client, token)).status_code == 401


async def test_refresh_rotates_and_old_token_dies(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})
    assert response.status_code == 200
    second = response.json()["data"]
    assert second["refresh_token"] != me["refresh_token"] and second["access_token"] != me["access_token"]
    assert f"tdc_refresh={second['refresh_token']}" in response.headers["set-cookie"]
    # Rotation never extends the session: the cookie and the answer count down to the login's 30 days.
    assert 2592000 - 60 <= second["refresh_expires_in"] <= 2592000
    await accounts.app.state.db.execute(
        "UPDATE sessions SET expires_at = NOW(6) + INTERVAL 1 HOUR WHERE user_id = %s", (me["id"],)
    )
    # The cookie alone works too (web clients).
    client.cookies.clear()
    client.cookies.set("tdc_refresh", second["refresh_token"], domain="auth.test", path="/api/v1/auth")
    response = await client.post("/api/v1/auth/refresh")
    assert response.status_code == 200
    third = response.json()["data"]
    assert 3500 <= third["refresh_expires_in"] <= 3600
    assert f"Max-Age={third['refresh_expires_in']}" in response.headers["set-cookie"]
    assert (await profile_status(client, third["access_token"])).status_code == 200
    # At the absolute end, the session's last token no longer refreshes.
    await accounts.app.state.db.execute(
        "UPDATE sessions SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE user_id = %s", (me["id"],)
    )
    client.cookies.clear()
    ended = await client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert ended.status_code == 401 and ended.json()["error"] == "Session has ended; sign in again"


async def test_refresh_reuse_revokes_the_whole_family(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    other_session = await accounts.login(me["email"], me["password"])
    rotated = (await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})).json()["data"]
    client.cookies.clear()
    reused = await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"] == "Refresh token already used; this sign-in has been ended everywhere"
    # The legitimate-looking successor is dead too: the family is revoked.
    client.cookies.clear()
    successor = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert successor.status_code == 401
    # Another sign-in of the same user is a different family and keeps working.
    client.cookies.clear()
    other = await client.post("/api/v1/auth/refresh", json={"refresh_token": other_session["refresh_token"]})
    assert other.status_code == 200


async def test_refresh_bad_inputs(client: httpx2.AsyncClient):
    client.cookies.clear()
    response = await client.post("/api/v1/auth/refresh")
    assert response.status_code == 401 and response.json() == {"success": False, "error": "Refresh token required"}
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": uuid.uuid4().hex})
    assert response.status_code == 401 and response.json()["error"] == "Invalid refresh token"
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x", "user_id": 1})
    assert response.status_code == 422


async def test_logout_revokes_the_family(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    client.cookies.clear()
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": me["refresh_token"]})
    assert response.status_code == 204
    assert 'tdc_refresh=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})
    assert response.status_code == 401
    # With only the access token, sign-out ends that token's session.
    other = await accounts.signed_in()
    response = await client.post("/api/v1/auth/logout", headers=other["headers"])
    assert response.status_code == 204
    client.cookies.clear()
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert response.status_code == 401
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/logout")).status_code == 401


async def test_jwks_in_envelope(client: httpx2.AsyncClient, ctx: AuthContext):
    response = await client.get("/api/v1/auth/jwks.json")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    keys = body["data"]["keys"]
    assert [k["kid"] for k in keys] == [k.kid for k in ctx.keys.keys]
    for jwk in keys:
        assert jwk["use"] == "sig" and jwk["alg"] in ("RS256", "EdDSA") and "d" not in jwk and "p" not in jwk


async def test_concurrent_presentations_of_one_refresh_token(client: httpx2.AsyncClient, accounts: Accounts):
    """Two parties racing with the same token: exactly one rotation wins, and the family still dies."""
    import asyncio

    me = await accounts.signed_in()
    client.cookies.clear()
    results = await asyncio.gather(
        *(client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]}) for _ in range(2))
    )
    assert sorted(r.status_code for r in results) == [200, 401]
    winner = next(r for r in results if r.status_code == 200).json()["data"]
    client.cookies.clear()
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    ).status_code == 401
