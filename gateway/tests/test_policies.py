"""Access policies at the gateway: tokens, roles, signature headers, and the ForwardAuth endpoint."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tdc_shared.testing.keys import SigningKey

from .conftest import JwksServer, Upstream, gateway_settings, running_gateway


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(key: SigningKey) -> dict[str, str]:
    claims = key.claims(sub=7, role="admin")
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{_b64(claims)}.",
        "HS256 with the public key": _hs256_with_public_key(key, claims),
        "expired": key.token(sub=7, role="admin", ttl=-3600),
        "wrong aud": key.token(sub=7, role="admin", aud="someone-else"),
        "wrong iss": key.token(sub=7, role="admin", iss="https://evil.example"),
        "unknown kid": SigningKey.generate("other-kid").token(sub=7, role="admin"),
        "garbage": "not.a.token",
        "tampered": _tamper(key.token(sub=7, role="user")),
    }


def _hs256_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    # PyJWT refuses a PEM as an HMAC secret, so sign by hand as an attacker would.
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_b64(claims)}"
    signature = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    return f"{header}.{_b64(claims)}.{signature}"


async def test_protected_route_without_token_is_401(gateway: Any) -> None:
    _, client = gateway
    response = await client.get("/api/v1/user/profile")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Authentication required"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_wrong_scheme_is_401(gateway: Any) -> None:
    _, client = gateway
    response = await client.get("/api/v1/user/profile", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401
    assert response.json()["error"] == "Authorization header must be 'Bearer <token>'"


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "HS256 with the public key",
        "expired",
        "wrong aud",
        "wrong iss",
        "unknown kid",
        "garbage",
        "tampered",
    ],
)
async def test_bad_tokens_are_401(gateway: Any, signing_key: SigningKey, upstream: Upstream, case: str) -> None:
    _, client = gateway
    before = len(upstream.seen)
    token = bad_tokens(signing_key)[case]
    response = await client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, case
    body = response.json()
    assert body["success"] is False and body["error"]
    assert len(upstream.seen) == before  # never reached the service


async def test_expired_token_message(gateway: Any, signing_key: SigningKey) -> None:
    _, client = gateway
    token = signing_key.token(ttl=-3600)
    response = await client.get("/api/v1/user/profile", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"success": False, "error": "Token expired"}


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/api/v1/user/profile", "user", 200),
        ("/api/v1/admin/events", "user", 403),
        ("/api/v1/admin/events", "staff", 200),
        ("/api/v1/admin/users", "staff", 403),
        ("/api/v1/admin/users", "admin", 200),
        ("/api/v1/admin/events", "admin", 200),
    ],
)
async def test_roles(gateway: Any, signing_key: SigningKey, path: str, role: str, status: int) -> None:
    _, client = gateway
    response = await client.get(path, headers={"Authorization": f"Bearer {signing_key.token(sub=3, role=role)}"})
    assert response.status_code == status
    if status == 403:
        needed = "Admin" if "users" in path else "Staff"
        assert response.json() == {"success": False, "error": f"{needed} access required"}


async def test_public_route_ignores_a_bad_token_but_uses_a_good_one(
    gateway: Any, signing_key: SigningKey, upstream: Upstream
) -> None:
    _, client = gateway
    response = await client.post("/api/v1/auth/refresh", headers={"Authorization": "Bearer expired.junk.token"})
    assert response.status_code == 200
    assert "x-user-id" not in upstream.seen[-1]["headers"]
    response = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {signing_key.token(sub=9)}"})
    assert upstream.seen[-1]["headers"]["x-user-id"] == "9"
    assert upstream.seen[-1]["headers"]["authorization"].startswith("Bearer ")  # services verify again


async def test_signature_policies_need_the_header(gateway: Any, upstream: Upstream) -> None:
    _, client = gateway
    response = await client.post("/api/v1/sl/objects/ping", content=b"{}")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Missing X-SL-Signature header"}
    response = await client.post("/api/v1/sl/objects/ping", content=b"{}", headers={"X-SL-Signature": "abc"})
    assert response.status_code == 200
    assert upstream.seen[-1]["headers"]["x-sl-signature"] == "abc"

    response = await client.post("/api/v1/webhooks/patreon", content=b"{}")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Missing webhook signature header"}
    response = await client.post("/api/v1/webhooks/patreon", content=b"{}", headers={"X-Patreon-Signature": "f00"})
    assert response.status_code == 200


async def test_forward_auth_endpoint(gateway: Any, signing_key: SigningKey) -> None:
    _, client = gateway
    token = signing_key.token(sub=5, role="staff", patreon_tier="gold", patreon_cents=1000)
    response = await client.get("/_auth/staff", headers={"Authorization": f"Bearer {token}", "X-User-Id": "1"})
    assert response.status_code == 200
    assert response.headers["x-user-id"] == "5"
    assert response.headers["x-user-role"] == "staff"
    assert response.headers["x-user-patreon-tier"] == "gold"
    assert response.headers["x-user-patreon-cents"] == "1000"

    response = await client.get("/_auth/admin", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {"success": False, "error": "Admin access required"}
    response = await client.get("/_auth/user")
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Authentication required"}

    response = await client.get("/_auth/public", headers={"X-User-Id": "1"})
    assert response.status_code == 200
    assert "x-user-id" not in response.headers
    response = await client.get("/_auth/user", headers={"X-Forwarded-Method": "OPTIONS"})
    assert response.status_code == 200
    response = await client.get("/_auth/sl-signature")
    assert response.status_code == 401
    response = await client.get("/_auth/root")
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Unknown policy"}


async def test_unknown_kid_refetches_at_most_once_per_cooldown_and_cached_keys_survive_auth_outage(
    upstream: Upstream,
) -> None:
    from .conftest import serve_aiohttp

    first = SigningKey.generate("k1")
    rotated = SigningKey.generate("k2")
    server = JwksServer([first])
    async with serve_aiohttp(server.app()) as url:
        server.url = url
        settings = gateway_settings(server, {"auth": upstream.url})
        async with running_gateway(settings) as (gw, client):

            async def call(key: SigningKey) -> int:
                token = key.token(sub=1, jti=f"{key.kid}-{time.monotonic_ns()}")
                response = await client.get("/api/v1/user/profile", headers={"Authorization": f"Bearer {token}"})
                return response.status_code

            assert await call(first) == 200
            assert await call(first) == 200
            assert server.fetches == 1  # keys cached

            # Auth rotates its key; until the cooldown since the last fetch is over, no refetch.
            server.keys.append(rotated)
            assert await call(rotated) == 401
            assert server.fetches == 1
            keys = gw.verifier.keys
            keys._last_attempt -= keys.refetch_cooldown  # the cooldown has passed
            assert await call(rotated) == 200
            assert server.fetches == 2
            # A kid nobody knows right after: no second refetch within the cooldown.
            assert await call(SigningKey.generate("k-unknown")) == 401
            assert server.fetches == 2

            # Auth goes down: tokens signed with cached keys keep working.
            server.up = False
            keys._last_attempt -= keys.refetch_cooldown
            assert await call(SigningKey.generate("k-unknown-2")) == 401
            assert server.fetches == 3
            assert await call(first) == 200
            assert await call(rotated) == 200
