"""Email verification and password reset: the tokens travel in events, are single use and expire."""

from __future__ import annotations

import asyncio

import httpx2
from auth_testkit import Accounts, unique_email
from conftest import BASE_URL, make_settings, random_client_ip

from tdc_auth.main import create_app
from tdc_auth.settings import AuthSettings

FORGOT = {"success": True, "data": {"message": "If an account exists for this address, a reset link is on its way."}}


async def verification_token(accounts: Accounts, user_id: int) -> str:
    events = await accounts.events("auth.email_verification.requested", user_id=user_id)
    return events[-1]["data"]["token"]


async def reset_token(accounts: Accounts, user_id: int) -> str:
    events = await accounts.events("auth.password_reset.requested", user_id=user_id)
    return events[-1]["data"]["token"]


async def test_verify_email_once(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    token = await verification_token(accounts, user["id"])
    response = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 200 and response.json()["data"]["email_verified"] is True
    updated = await accounts.events("auth.user.updated", user_id=user["id"])
    assert updated[-1]["data"]["email_verified"] is True
    again = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json() == {
        "success": False,
        "error": "Invalid verification token",
        "errors": {"token": ["is invalid, already used or expired"]},
    }
    assert (await client.post("/api/v1/auth/verify-email", json={})).status_code == 422


async def test_resend_verification(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    unknown = await client.post("/api/v1/auth/resend-verification", json={"email": unique_email()})
    known = await client.post("/api/v1/auth/resend-verification", json={"email": user["email"]})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert len(await accounts.events("auth.email_verification.requested", user_id=user["id"])) == 2
    # The newest link works, and spends the older one too.
    first = (await accounts.events("auth.email_verification.requested", user_id=user["id"]))[0]["data"]["token"]
    assert (
        await client.post("/api/v1/auth/verify-email", json={"token": await verification_token(accounts, user["id"])})
    ).status_code == 200
    assert (await client.post("/api/v1/auth/verify-email", json={"token": first})).status_code == 400
    # Verified: nothing more is sent. Signed in, no body is needed.
    me = await accounts.login(user["email"], user["password"])
    response = await client.post(
        "/api/v1/auth/resend-verification", headers={"Authorization": f"Bearer {me['access_token']}"}
    )
    assert response.status_code == 202
    assert len(await accounts.events("auth.email_verification.requested", user_id=user["id"])) == 2
    response = await client.post("/api/v1/auth/resend-verification")
    assert response.status_code == 422 and response.json()["errors"] == {"email": ["is required when not signed in"]}


async def test_mail_requests_per_address_are_limited(client: httpx2.AsyncClient):
    email = unique_email()
    for _ in range(5):
        assert (await client.post("/api/v1/auth/forgot-password", json={"email": email})).status_code == 202
    response = await client.post("/api/v1/auth/forgot-password", json={"email": email})
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1


async def test_forgot_password_same_answer_and_event_only_for_real_accounts(
    client: httpx2.AsyncClient, accounts: Accounts
):
    user = await accounts.register()
    ghost = unique_email()
    known = await client.post("/api/v1/auth/forgot-password", json={"email": user["email"]})
    unknown = await client.post("/api/v1/auth/forgot-password", json={"email": ghost})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() == FORGOT
    assert len(await accounts.events("auth.password_reset.requested", user_id=user["id"])) == 1
    assert await accounts.events("auth.password_reset.requested", email=ghost) == []
    assert (await client.post("/api/v1/auth/forgot-password", json={"email": "nope"})).status_code == 422


async def test_reset_password_ends_every_session_and_is_single_use(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    session = await accounts.login(user["email"], user["password"])
    await client.post("/api/v1/auth/forgot-password", json={"email": user["email"]})
    token = await reset_token(accounts, user["id"])
    weak = await client.post("/api/v1/auth/reset-password", json={"token": token, "password": "12345678"})
    assert weak.status_code == 422 and "password" in weak.json()["errors"]
    response = await client.post("/api/v1/auth/reset-password", json={"token": token, "password": "a brand new secret"})
    assert response.status_code == 200
    client.cookies.clear()
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refresh.status_code == 401
    old = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": user["password"]})
    assert old.status_code == 401
    await accounts.login(user["email"], "a brand new secret")
    again = await client.post("/api/v1/auth/reset-password", json={"token": token, "password": "yet another secret"})
    assert again.status_code == 400 and again.json()["errors"] == {"token": ["is invalid, already used or expired"]}


async def test_reset_token_expires(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    await client.post("/api/v1/auth/forgot-password", json={"email": user["email"]})
    token = await reset_token(accounts, user["id"])
    await accounts.app.state.db.execute(
        "UPDATE one_time_tokens SET expires_at = created_at - INTERVAL 1 SECOND WHERE user_id = %s", (user["id"],)
    )
    response = await client.post("/api/v1/auth/reset-password", json={"token": token, "password": "a brand new secret"})
    assert response.status_code == 400


async def test_reset_link_lives_one_hour(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    await client.post("/api/v1/auth/forgot-password", json={"email": user["email"]})
    lifetime = await accounts.app.state.db.fetch_value(
        "SELECT TIMESTAMPDIFF(SECOND, created_at, expires_at) FROM one_time_tokens "
        "WHERE user_id = %s AND purpose = 'reset_password'",
        (user["id"],),
    )
    assert 3595 <= lifetime <= 3600


async def test_a_burst_of_resend_requests_never_exhausts_the_pool(auth_settings: AuthSettings, oauth_provider):
    # The throttle counts on a connection of its own; a route that held one while waiting for
    # another would deadlock the pool once as many requests as connections arrive together.
    settings = make_settings(
        auth_settings.mysql_url,
        auth_settings.db_prefix,
        auth_settings.auth_signing_keys_dir,
        oauth_provider,
        db_pool_size=2,
        db_pool_wait_seconds=2.0,
    )
    app = create_app(settings, bus=False)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:

            async def resend() -> int:
                response = await client.post(
                    "/api/v1/auth/resend-verification",
                    json={"email": unique_email()},
                    headers={"X-Forwarded-For": random_client_ip()},
                )
                return response.status_code

            assert await asyncio.gather(*(resend() for _ in range(8))) == [202] * 8
