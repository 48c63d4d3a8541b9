"""Hardening: one spelling per email, tokens that die with their session or role, throttled password checks."""

from __future__ import annotations

import httpx2
from auth_testkit import Accounts, unique_email

from tdc_auth.models import canonical_email

PROFILE = "/api/v1/user/profile"


def fullwidth(email: str) -> str:
    """The same address as a probe spelled it: fullwidth letters and at sign, upper case domain."""
    local, domain = email.split("@")
    wide = "".join(chr(ord(c) - 0x21 + 0xFF01) if "!" <= c <= "~" and c.isalpha() else c for c in local)
    return f"{wide}\uff20{domain.upper()}"


def test_canonical_email_is_one_spelling_per_address():
    assert canonical_email("Admin@Probe.Example") == "admin@probe.example"
    assert canonical_email(fullwidth("admin@probe.example")) == "admin@probe.example"
    # Other addresses stay other addresses, whatever a case-insensitive collation thinks.
    assert canonical_email("\u00e1dmin@probe.example") != "admin@probe.example"
    assert canonical_email("admin@pr\u00f6be.example").startswith("admin@xn--")


async def test_every_spelling_counts_against_one_account(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    for _ in range(5):
        wrong = await client.post("/api/v1/auth/login", json={"email": user["email"], "password": "not it at all"})
        assert wrong.status_code == 401
    # The sixth guess in another spelling is the same account: refused by the throttle, even if right.
    other = await client.post(
        "/api/v1/auth/login", json={"email": fullwidth(user["email"]), "password": user["password"]}
    )
    assert other.status_code == 429
    assert other.json()["success"] is False


async def test_a_fullwidth_spelling_signs_in_to_the_same_account(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    tokens = await accounts.login(fullwidth(user["email"]), user["password"])
    assert tokens["user"]["id"] == user["id"]
    # And registering it again is a known address, not a second account.
    again = await client.post(
        "/api/v1/auth/register",
        json={"email": fullwidth(user["email"]), "username": "someone_else_x", "password": "yet another secret"},
    )
    assert again.status_code == 202
    assert await accounts.events("auth.user.registration_attempted", user_id=user["id"])


async def test_mail_throttle_counts_per_account_in_any_spelling(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    spellings = [user["email"], user["email"].upper(), fullwidth(user["email"])]
    answers = [
        (await client.post("/api/v1/auth/forgot-password", json={"email": spellings[n % 3]})).status_code
        for n in range(6)
    ]
    assert answers == [202] * 5 + [429]
    assert len(await accounts.events("auth.password_reset.requested", user_id=user["id"])) == 5


async def test_logout_kills_the_access_token_at_once(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    assert (await client.get(PROFILE, headers=me["headers"])).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=me["headers"])).status_code == 204
    response = await client.get(PROFILE, headers=me["headers"])
    assert response.status_code == 401 and response.json()["error"] == "Token has been revoked"
    sid = (await accounts.events("auth.tokens.revoked", user_id=me["user"]["id"]))[0]["data"]
    assert sid["session_id"] and sid["not_before"] is None


async def test_password_change_kills_the_other_sessions_tokens_only(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    other = await accounts.login(me["email"], me["password"])
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    response = await client.post(
        "/api/v1/user/password",
        json={"current_password": me["password"], "new_password": "a brand new secret"},
        headers=me["headers"],
    )
    assert response.status_code == 204
    assert (await client.get(PROFILE, headers=other_headers)).status_code == 401
    assert (await client.get(PROFILE, headers=me["headers"])).status_code == 200


async def test_demotion_and_disable_kill_older_tokens_but_not_newer_ones(
    client: httpx2.AsyncClient, accounts: Accounts
):
    admin = await accounts.admin()
    staff = await accounts.signed_in()
    patch = f"/api/v1/admin/users/{staff['user']['id']}"
    assert (await client.patch(patch, json={"role": "staff"}, headers=admin["headers"])).status_code == 200
    promoted = await accounts.login(staff["email"], staff["password"])
    promoted_headers = {"Authorization": f"Bearer {promoted['access_token']}"}
    assert (await client.get(PROFILE, headers=promoted_headers)).status_code == 200
    assert (await client.get(PROFILE, headers=staff["headers"])).status_code == 401  # older than the promotion
    assert (await client.patch(patch, json={"role": "user"}, headers=admin["headers"])).status_code == 200
    assert (await client.get(PROFILE, headers=promoted_headers)).status_code == 401
    # Signing in right after (same second) gives a token that passes.
    demoted = await accounts.login(staff["email"], staff["password"])
    demoted_headers = {"Authorization": f"Bearer {demoted['access_token']}"}
    assert (await client.get(PROFILE, headers=demoted_headers)).status_code == 200
    events = await accounts.events("auth.tokens.revoked", user_id=staff["user"]["id"], session_id=None)
    assert len(events) == 2 and all(isinstance(e["data"]["not_before"], int) for e in events)


async def test_current_password_guesses_are_throttled_like_sign_in(client: httpx2.AsyncClient, accounts: Accounts):
    me = await accounts.signed_in()
    codes = []
    for _ in range(6):
        response = await client.post(
            "/api/v1/user/password",
            json={"current_password": "a wrong guess", "new_password": "a brand new secret"},
            headers=me["headers"],
        )
        codes.append(response.status_code)
    assert codes == [422] * 5 + [429]
    # The right password is refused too while the window holds: the limit is per account.
    right = await client.post(
        "/api/v1/user/password",
        json={"current_password": me["password"], "new_password": "a brand new secret"},
        headers=me["headers"],
    )
    assert right.status_code == 429


async def test_forwarded_for_is_validated_before_it_is_stored(client: httpx2.AsyncClient, accounts: Accounts):
    user = await accounts.register()
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": user["email"], "password": user["password"]},
        headers={"X-Forwarded-For": "x" * 60},
    )
    assert response.status_code == 200
    sessions = await client.get(
        "/api/v1/user/sessions", headers={"Authorization": f"Bearer {response.json()['data']['access_token']}"}
    )
    assert sessions.json()["data"][0]["ip_address"] == "127.0.0.1"


async def test_unknown_address_spellings_share_a_throttle(client: httpx2.AsyncClient):
    email = unique_email()
    codes = [
        (await client.post("/api/v1/auth/forgot-password", json={"email": s})).status_code
        for s in [email, email.upper(), fullwidth(email), email, email.upper(), email]
    ]
    assert codes == [202] * 5 + [429]
