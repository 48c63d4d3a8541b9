"""Registration and password sign-in."""

from __future__ import annotations

import httpx2
from auth_testkit import Accounts, unique_email, unique_username

from tdc_auth.models import user_out
from tdc_auth.queries import users


async def test_register_answers_check_your_mail_and_emits_events(client: httpx2.AsyncClient, accounts: Accounts):
    email = unique_email().upper()
    username = unique_username()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "username": username, "password": "a long enough secret", "language": "it"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and set(body["data"]) == {"message"}
    assert "check your mail" in body["data"]["message"].lower()
    async with accounts.app.state.db.transaction() as tx:
        user = user_out(await users.by_email(tx, email))
    assert user["email"] == email.lower() and user["username"] == username
    assert user["language"] == "it"
    assert user["role"] == "user" and user["email_verified"] is False and user["has_password"] is True
    registered = await accounts.events("auth.user.registered", user_id=user["id"])
    assert registered[0]["data"] == {
        "user_id": user["id"],
        "email": email.lower(),
        "username": user["username"],
        "language": "it",
    }
    requested = await accounts.events("auth.email_verification.requested", user_id=user["id"])
    assert len(requested) == 1 and len(requested[0]["data"]["token"]) >= 40
    assert requested[0]["source"] == "auth"


async def test_a_known_email_answers_like_a_new_one_and_mails_its_owner(client: httpx2.AsyncClient, accounts: Accounts):
    owner = await accounts.register(language="fr")
    fresh = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "username": unique_username(), "password": "another fine secret"},
    )
    # Another spelling of the owner's address (upper case, fullwidth first letter) is the same address.
    spelling = chr(ord(owner["email"][0]) - ord("a") + ord("\uff41")) + owner["email"][1:].upper()
    known = await client.post(
        "/api/v1/auth/register",
        json={"email": spelling, "username": unique_username(), "password": "another fine secret"},
    )
    assert (known.status_code, known.json()) == (fresh.status_code, fresh.json()) == (202, fresh.json())
    attempted = await accounts.events("auth.user.registration_attempted", user_id=owner["id"])
    assert [e["data"] for e in attempted] == [
        {"user_id": owner["id"], "email": owner["email"], "username": owner["username"], "language": "fr"}
    ]
    # No second account, no verification link for the attempt.
    requested = await accounts.events("auth.email_verification.requested", user_id=owner["id"])
    assert len(requested) == 1
    async with accounts.app.state.db.transaction() as tx:
        count = await tx.fetch_value("SELECT COUNT(*) FROM users WHERE email_canonical = %s", (owner["email"],))
    assert count == 1


async def test_a_taken_username_is_still_409(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "username": user["username"].upper(), "password": "another fine secret"},
    )
    assert response.status_code == 409
    assert response.json() == {
        "success": False,
        "error": "Username already in use",
        "errors": {"username": ["is already taken"]},
    }


async def test_privileged_fields_in_register_are_rejected(client: httpx2.AsyncClient):
    for extra in ({"role": "admin"}, {"email_verified": True}, {"is_active": True}):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": unique_email(), "username": unique_username(), "password": "long enough pw", **extra},
        )
        assert response.status_code == 422
        assert response.json()["errors"] == {next(iter(extra)): ["unknown field"]}


async def test_password_policy(client: httpx2.AsyncClient, accounts: Accounts):
    cases = {
        "short7!": "must be at least 8 characters",
        "password1": "is too common; choose a less guessable password",
        "Qwertyuiop": "is too common; choose a less guessable password",
    }
    for password, message in cases.items():
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": unique_email(), "username": unique_username(), "password": password},
        )
        assert response.status_code == 422, password
        assert response.json()["errors"] == {"password": [message]}
    # Long and non-ASCII passwords are kept whole: a different last character does not sign in.
    long_password = "ünïcødé-🔑-" + "x" * 120
    user = await accounts.register(password=long_password)
    await accounts.login(user["email"], long_password)
    response = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": long_password[:-1]})
    assert response.status_code == 401


async def test_register_validation_errors(client: httpx2.AsyncClient):
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "not-an-email", "username": "a", "password": "long enough pw", "language": "de"},
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"email", "username", "language"}
    response = await client.post("/api/v1/auth/register", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["success"] is False


async def test_login_returns_token_pair_and_refresh_cookie(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    response = await client.post(
        "/api/v1/auth/login", json={"email": user["email"].upper(), "password": user["password"]}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["token_type"] == "Bearer" and data["expires_in"] == 900
    assert data["user"]["id"] == user["id"] and data["access_token"] and data["refresh_token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"tdc_refresh={data['refresh_token']};")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/api/v1/auth", "Max-Age=2592000"):
        assert attribute.lower() in cookie.lower(), attribute
    assert response.headers["cache-control"] == "no-store"


async def test_unknown_email_and_wrong_password_are_indistinguishable(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    wrong = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": "not the password"})
    unknown = await client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert wrong.json() == {"success": False, "error": "Invalid email or password"}
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


async def test_failures_for_one_account_are_throttled(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    for _ in range(5):
        response = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": "wrong guess"})
        assert response.status_code == 401
    # Even the right password waits now, from another address too: the limit is per account.
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": user["email"], "password": user["password"]},
        headers={"X-Forwarded-For": "2001:db8::ab"},
    )
    assert response.status_code == 429
    assert response.json() == {"success": False, "error": "Too many failed sign-in attempts; try again later"}
    assert 1 <= int(response.headers["retry-after"]) <= 15 * 60


async def test_failures_from_one_client_are_throttled(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    for _ in range(12):
        response = await client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "guess guess"})
        assert response.status_code == 401
    response = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": user["password"]})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


async def test_login_bad_inputs(client: httpx2.AsyncClient):
    response = await client.post("/api/v1/auth/login", json={"email": "x@example.com"})
    assert response.status_code == 422 and response.json()["errors"] == {"password": ["Field required"]}
    response = await client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "p", "role": "x"})
    assert response.status_code == 422 and response.json()["errors"] == {"role": ["unknown field"]}


async def test_openapi_documents_what_registration_checks(client: httpx2.AsyncClient):
    # The frontend builds its forms from this: the documented rules are the ones enforced.
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    body = schemas["RegisterBody"]["properties"]
    assert body["password"]["minLength"] == 8 and body["password"]["maxLength"] == 1024
    assert body["username"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$"
    assert body["email"]["format"] == "email"
    assert body["language"]["enum"] == ["en", "it", "fr", "es"]
    assert schemas["ChangePasswordBody"]["properties"]["new_password"]["minLength"] == 8
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "short-pw@example.com", "username": "shortpw", "password": "a" * 7},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"password": ["must be at least 8 characters"]}
