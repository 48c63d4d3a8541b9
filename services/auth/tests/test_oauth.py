"""OAuth sign-in against the local provider over real HTTP: state, PKCE, linking by verified email only."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from auth_oauth_provider import FakeProvider
from auth_testkit import Accounts, unique_email

from tdc_auth.oauth import OAuthProviders
from tdc_auth.settings import AuthSettings


def person(provider: str, email: str, verified: bool, name: str = "Dream Walker") -> dict:
    subject = uuid.uuid4().hex
    if provider == "google":
        return {"sub": subject, "email": email, "email_verified": verified, "name": name}
    if provider == "discord":
        return {"id": subject, "username": "walker", "global_name": name, "email": email, "verified": verified}
    return {"id": subject, "name": name, "email": email}


async def start(client: httpx2.AsyncClient, provider: str, mode: str = "json") -> str:
    """Our login redirect, then the provider's authorize redirect: the callback URL the browser would follow."""
    response = await client.get(f"/api/v1/auth/oauth/{provider}/login", params={"mode": mode})
    assert response.status_code == 302, response.text
    authorize = response.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"]
    async with httpx2.AsyncClient() as browser:
        at_provider = await browser.get(authorize)
    assert at_provider.status_code == 302, at_provider.text
    return at_provider.headers["location"]


async def sign_in(client: httpx2.AsyncClient, provider: str, mode: str = "json") -> httpx2.Response:
    return await client.get(await start(client, provider, mode))


@pytest.mark.parametrize("provider", ["google", "discord"])
async def test_new_account_from_verified_provider(
    client: httpx2.AsyncClient, accounts: Accounts, oauth_provider: FakeProvider, provider: str
):
    email = unique_email(provider)
    oauth_provider.person[provider] = person(provider, email, verified=True)
    response = await sign_in(client, provider)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["user"]["email"] == email and data["user"]["email_verified"] is True
    assert data["user"]["has_password"] is False and data["user"]["display_name"] == "Dream Walker"
    assert "tdc_refresh=" in response.headers["set-cookie"]
    # The provider saw a PKCE verifier matching the challenge (it refuses the code otherwise).
    assert oauth_provider.token_requests[-1]["code_verifier"]
    linked = await client.get(
        "/api/v1/user/oauth-accounts", headers={"Authorization": f"Bearer {data['access_token']}"}
    )
    assert [a["provider"] for a in linked.json()["data"]] == [provider]
    assert (await accounts.events("auth.user.registered", email=email))[0]["data"]["user_id"] == data["user"]["id"]
    # Signing in again with the same identity reaches the same account.
    again = await sign_in(client, provider)
    assert again.json()["data"]["user"]["id"] == data["user"]["id"]


async def test_verified_email_links_a_verified_account_and_keeps_its_password(
    client: httpx2.AsyncClient, accounts: Accounts, oauth_provider: FakeProvider
):
    user = await accounts.register()
    await accounts.app.state.db.execute("UPDATE users SET email_verified = 1 WHERE id = %s", (user["id"],))
    oauth_provider.person["google"] = person("google", user["email"], verified=True)
    response = await sign_in(client, "google")
    assert response.status_code == 200
    linked = response.json()["data"]["user"]
    assert linked["id"] == user["id"] and linked["email_verified"] is True and linked["has_password"] is True
    await accounts.login(user["email"], user["password"])


async def test_a_verified_provider_email_takes_over_an_unverified_password_account(
    client: httpx2.AsyncClient, accounts: Accounts, oauth_provider: FakeProvider, caplog: pytest.LogCaptureFixture
):
    # Pre-account takeover: someone registers the owner's address with a password of theirs first.
    squatter = await accounts.signed_in()
    oauth_provider.person["google"] = person("google", squatter["email"], verified=True)
    with caplog.at_level("WARNING", logger="tdc.audit"):
        response = await sign_in(client, "google")
    assert response.status_code == 200
    owner = response.json()["data"]["user"]
    assert owner["id"] == squatter["id"] and owner["email_verified"] is True and owner["has_password"] is False
    # The squatter's password, refresh token and access token are all gone.
    login = await client.post("/api/v1/auth/login", json={"email": squatter["email"], "password": squatter["password"]})
    assert login.status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": squatter["refresh_token"]})
    assert refresh.status_code == 401
    profile = await client.get("/api/v1/user/profile", headers=squatter["headers"])
    assert profile.status_code == 401
    # The owner's new session works.
    mine = {"Authorization": f"Bearer {response.json()['data']['access_token']}"}
    assert (await client.get("/api/v1/user/profile", headers=mine)).status_code == 200
    audit = [r for r in caplog.records if getattr(r, "audit", None) == "account_taken_over"]
    assert len(audit) == 1 and audit[0].user_id == squatter["id"] and audit[0].password_removed is True
    revoked = await accounts.events("auth.tokens.revoked", user_id=squatter["id"])
    assert {e["data"]["session_id"] for e in revoked} >= {None}
    assert any(e["data"]["session_id"] for e in revoked)


@pytest.mark.parametrize("provider", ["google", "discord", "facebook"])
async def test_unverified_email_does_not_take_over(
    client: httpx2.AsyncClient, accounts: Accounts, oauth_provider: FakeProvider, provider: str
):
    user = await accounts.register()
    oauth_provider.person[provider] = person(provider, user["email"], verified=False)
    response = await sign_in(client, provider)
    assert response.status_code == 409
    assert response.json()["error"].startswith("An account with this email exists")
    rows = await accounts.app.state.db.fetch_value(
        "SELECT COUNT(*) FROM oauth_accounts WHERE user_id = %s", (user["id"],)
    )
    assert rows == 0


async def test_facebook_creates_unverified_account(client: httpx2.AsyncClient, oauth_provider: FakeProvider):
    email = unique_email("fb")
    oauth_provider.person["facebook"] = person("facebook", email, verified=True)
    response = await sign_in(client, "facebook")
    assert response.status_code == 200
    assert response.json()["data"]["user"]["email_verified"] is False


async def test_redirect_mode_sets_cookie_and_lands_on_frontend(
    client: httpx2.AsyncClient, oauth_provider: FakeProvider
):
    oauth_provider.person["discord"] = person("discord", unique_email("web"), verified=True)
    response = await sign_in(client, "discord", mode="redirect")
    assert response.status_code == 303
    assert response.headers["location"] == "https://app.test/auth/done"
    refresh = next(c for c in response.headers.get_list("set-cookie") if c.startswith("tdc_refresh="))
    assert "httponly" in refresh.lower() and "secure" in refresh.lower()
    # The frontend then trades the cookie for an access token.
    client.cookies.set("tdc_refresh", refresh.split(";")[0].split("=", 1)[1], domain="auth.test", path="/api/v1/auth")
    assert (await client.post("/api/v1/auth/refresh")).status_code == 200
    # A failure in redirect mode lands there too, with an error code.
    oauth_provider.person["discord"] = person("discord", "", verified=True)
    failed = await sign_in(client, "discord", mode="redirect")
    assert failed.status_code == 303 and failed.headers["location"] == "https://app.test/auth/done?error=email_required"


async def test_state_and_session_are_checked(client: httpx2.AsyncClient, oauth_provider: FakeProvider):
    oauth_provider.person["google"] = person("google", unique_email("state"), verified=True)
    callback = await start(client, "google")
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    forged = f"{parts.scheme}://{parts.netloc}{parts.path}?code={query['code'][0]}&state=forged"
    response = await client.get(forged)
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "Sign-in with the provider failed; start again"}
    # A callback arriving in a browser that did not start the flow (no session cookie) fails too;
    # without the session it cannot know the JSON mode either, so it lands on the frontend with an error.
    callback = await start(client, "google")
    client.cookies.clear()
    async with httpx2.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as stranger:
        response = await stranger.get(callback)
    assert response.status_code == 303
    assert response.headers["location"] == "https://app.test/auth/done?error=oauth_failed"
    # The provider's own error comes back as a failed sign-in, not a crash.
    denied = await client.get("/api/v1/auth/oauth/google/callback?error=access_denied&state=x")
    assert denied.status_code == 303 and denied.headers["location"].endswith("?error=oauth_failed")


async def test_unknown_or_unconfigured_provider_is_404(client: httpx2.AsyncClient, auth_settings: AuthSettings):
    response = await client.get("/api/v1/auth/oauth/github/login")
    assert response.status_code == 404 and response.json()["success"] is False
    bare = AuthSettings(**{**auth_settings.model_dump(), "auth_facebook_client_secret": ""})
    assert OAuthProviders(bare).client("facebook") is None
    assert OAuthProviders(bare).client("google") is not None
    assert (await client.get("/api/v1/auth/oauth/google/login", params={"mode": "xml"})).status_code == 422


async def test_unlinking_keeps_a_way_to_sign_in(
    client: httpx2.AsyncClient, accounts: Accounts, oauth_provider: FakeProvider
):
    oauth_provider.person["google"] = person("google", unique_email("only"), verified=True)
    data = (await sign_in(client, "google")).json()["data"]
    headers = {"Authorization": f"Bearer {data['access_token']}"}
    response = await client.delete("/api/v1/user/oauth-accounts/google", headers=headers)
    assert response.status_code == 409
    assert (await client.delete("/api/v1/user/oauth-accounts/discord", headers=headers)).status_code == 404
    assert (await client.delete("/api/v1/user/oauth-accounts/myspace", headers=headers)).status_code == 404
    # With a password set (no current one needed for a provider-only account), unlinking is allowed.
    response = await client.post("/api/v1/user/password", headers=headers, json={"new_password": "my own secret now"})
    assert response.status_code == 204
    assert (await client.delete("/api/v1/user/oauth-accounts/google", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/user/oauth-accounts", headers=headers)).json()["data"] == []


async def test_callback_url_comes_from_the_configured_public_url_only(client: httpx2.AsyncClient):
    # X-Forwarded-Host is whatever the caller's Host said: a callback built from it would send the
    # provider's code to a host of the caller's choosing.
    response = await client.get(
        "/api/v1/auth/oauth/discord/login",
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Host": "evil.example"},
    )
    assert response.status_code == 302
    redirect_uri = parse_qs(urlsplit(response.headers["location"]).query)["redirect_uri"]
    assert redirect_uri == ["https://auth.test/api/v1/auth/oauth/discord/callback"]


def test_production_needs_a_public_url():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="TDC_AUTH_PUBLIC_URL"):
        AuthSettings(env="prod", mysql_url="mysql://a:b@db", amqp_url="amqp://a:b@mq/", auth_session_secret="s" * 40)


async def test_unusable_provider_email_is_422(client: httpx2.AsyncClient, oauth_provider: FakeProvider):
    oauth_provider.person["google"] = person("google", "not an address", verified=True)
    response = await sign_in(client, "google")
    assert response.status_code == 422
    assert response.json()["errors"] == {"email": ["is not a valid email address"]}
