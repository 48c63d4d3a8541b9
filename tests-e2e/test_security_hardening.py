"""Security hardening through the running stack: the gateway, and each service on its own port.

Tokens die with their session or role everywhere within moments (the revocation broadcast), a
forged token header never 500s, one spelling per email, forwarded addresses only from the
gateway, metrics off the public ports, registration that does not tell who has an account, and
answers in the envelope for broken chunked bodies, tz folders and malformed images.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import uuid
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

if TYPE_CHECKING:
    from conftest import BusListener, RunningStack

pytestmark = pytest.mark.e2e

PASSWORD = "night owls at the cave"


def address() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}@example.com"


def fullwidth(email: str) -> str:
    local, domain = email.split("@")
    return "".join(chr(ord(c) - 0x21 + 0xFF01) if c.isalpha() else c for c in local) + "\uff20" + domain.upper()


async def register(api: httpx2.AsyncClient, bus: BusListener, email: str | None = None) -> dict[str, Any]:
    email = email or address()
    response = await api.post(
        "/api/v1/auth/register", json={"email": email, "username": f"sec_{uuid.uuid4().hex[:10]}", "password": PASSWORD}
    )
    assert response.status_code == 202, response.text
    registered = await bus.expect("auth.user.registered", email=email)
    return {"id": registered["data"]["user_id"], "email": email}


async def log_in(api: httpx2.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await api.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return {**data, "headers": {"Authorization": f"Bearer {data['access_token']}"}}


async def admin(stack: RunningStack, api: httpx2.AsyncClient) -> dict[str, str]:
    return (await log_in(api, stack.admin_email, stack.admin_password))["headers"]


async def until(check, what: str, attempts: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Bounded polling: the revocation reaches every process within moments, never on a clock we assert."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def staff_member(stack: RunningStack, api: httpx2.AsyncClient, bus: BusListener) -> dict[str, Any]:
    user = await register(api, bus)
    promoted = await api.patch(
        f"/api/v1/admin/users/{user['id']}", json={"role": "staff"}, headers=await admin(stack, api)
    )
    assert promoted.status_code == 200, promoted.text
    return {**user, **await log_in(api, user["email"])}


async def refused_everywhere(stack: RunningStack, api: httpx2.AsyncClient, headers: dict[str, str]) -> None:
    """The token is refused by the gateway and by the catalog on its own port (staff routes)."""
    async with httpx2.AsyncClient(base_url=stack.service_url("catalog"), timeout=10) as catalog:

        async def refused() -> bool:
            through_gateway = await api.get("/api/v1/admin/events", headers=headers)
            direct = await catalog.get("/api/v1/admin/events", headers=headers)
            return through_gateway.status_code == 401 and direct.status_code == 401

        await until(refused, "the old token refused by the gateway and the catalog")
        body = (await catalog.get("/api/v1/admin/events", headers=headers)).json()
        assert body == {"success": False, "error": "Token has been revoked"}


async def test_a_demoted_staff_members_token_dies_everywhere(stack, api: httpx2.AsyncClient, bus: BusListener):
    staff = await staff_member(stack, api, bus)
    async with httpx2.AsyncClient(base_url=stack.service_url("catalog"), timeout=10) as catalog:
        assert (await catalog.get("/api/v1/admin/events", headers=staff["headers"])).status_code == 200
    assert (await api.get("/api/v1/admin/events", headers=staff["headers"])).status_code == 200  # now cached
    demoted = await api.patch(
        f"/api/v1/admin/users/{staff['id']}", json={"role": "user"}, headers=await admin(stack, api)
    )
    assert demoted.status_code == 200
    revoked = await bus.expect("auth.tokens.revoked", user_id=staff["id"], session_id=None)
    assert revoked["data"]["not_before"] > 0
    await refused_everywhere(stack, api, staff["headers"])
    # The same person signing in again is a user now: 403, not a stale staff token.
    again = await log_in(api, staff["email"])
    assert (await api.get("/api/v1/admin/events", headers=again["headers"])).status_code == 403


async def test_logout_and_disable_end_access_tokens_everywhere(stack, api: httpx2.AsyncClient, bus: BusListener):
    staff = await staff_member(stack, api, bus)
    assert (await api.get("/api/v1/admin/events", headers=staff["headers"])).status_code == 200
    assert (await api.post("/api/v1/auth/logout", headers=staff["headers"])).status_code == 204
    await refused_everywhere(stack, api, staff["headers"])

    other = await log_in(api, staff["email"])
    assert (await api.get("/api/v1/admin/events", headers=other["headers"])).status_code == 200
    disabled = await api.patch(
        f"/api/v1/admin/users/{staff['id']}", json={"is_active": False}, headers=await admin(stack, api)
    )
    assert disabled.status_code == 200
    await refused_everywhere(stack, api, other["headers"])


async def test_a_password_change_ends_the_other_sessions_tokens(stack, api: httpx2.AsyncClient, bus: BusListener):
    user = await register(api, bus)
    mine, theirs = await log_in(api, user["email"]), await log_in(api, user["email"])
    changed = await api.post(
        "/api/v1/user/password",
        json={"current_password": PASSWORD, "new_password": "a brand new night secret"},
        headers=mine["headers"],
    )
    assert changed.status_code == 204

    async def refused() -> bool:
        return (await api.get("/api/v1/user/profile", headers=theirs["headers"])).status_code == 401

    await until(refused, "the other session's token refused")
    assert (await api.get("/api/v1/user/profile", headers=mine["headers"])).status_code == 200


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_forged_alg_header_is_never_a_500(stack, api: httpx2.AsyncClient):
    kid = (await api.get("/api/v1/auth/jwks.json")).json()["data"]["keys"][-1]["kid"]
    forged = f"{_b64({'alg': 'ES256', 'kid': kid})}.{_b64({'sub': '1', 'role': 'admin'})}.{_b64({'s': 1})}"
    headers = {"Authorization": f"Bearer {forged}"}
    public = await api.get("/api/v1/events", headers=headers)
    assert public.status_code == 200  # no identity, not an error
    for client_url in (stack.url, stack.service_url("auth")):
        async with httpx2.AsyncClient(base_url=client_url, timeout=10) as client:
            response = await client.get("/api/v1/user/profile", headers=headers)
            assert response.status_code == 401, client_url
            assert response.json()["success"] is False
    async with httpx2.AsyncClient(base_url=stack.service_url("catalog"), timeout=10) as catalog:
        assert (await catalog.get("/api/v1/events", headers=headers)).status_code == 200
        assert (await catalog.get("/api/v1/admin/events", headers=headers)).status_code == 401


async def test_every_spelling_of_an_email_is_one_account(api: httpx2.AsyncClient, bus: BusListener):
    user = await register(api, bus)
    for _ in range(5):
        wrong = await api.post("/api/v1/auth/login", json={"email": user["email"], "password": "not the password"})
        assert wrong.status_code == 401
    other = await api.post("/api/v1/auth/login", json={"email": fullwidth(user["email"]), "password": PASSWORD})
    assert other.status_code == 429 and other.json()["success"] is False


async def test_registration_does_not_tell_who_has_an_account(api: httpx2.AsyncClient, bus: BusListener):
    user = await register(api, bus)
    known = await api.post(
        "/api/v1/auth/register",
        json={"email": user["email"].upper(), "username": f"sec_{uuid.uuid4().hex[:10]}", "password": PASSWORD},
    )
    unknown = await api.post(
        "/api/v1/auth/register",
        json={"email": address(), "username": f"sec_{uuid.uuid4().hex[:10]}", "password": PASSWORD},
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    attempted = await bus.expect("auth.user.registration_attempted", user_id=user["id"])
    assert attempted["data"]["email"] == user["email"]


async def test_password_change_guesses_are_throttled(api: httpx2.AsyncClient, bus: BusListener):
    user = await register(api, bus)
    session = await log_in(api, user["email"])
    codes = []
    for _ in range(6):
        response = await api.post(
            "/api/v1/user/password",
            json={"current_password": "a wrong guess", "new_password": "a brand new night secret"},
            headers=session["headers"],
        )
        codes.append(response.status_code)
    assert codes == [422] * 5 + [429]


async def test_forwarded_for_is_believed_only_from_the_gateway(stack, api: httpx2.AsyncClient, bus: BusListener):
    user = await register(api, bus)
    async with httpx2.AsyncClient(base_url=stack.service_url("auth"), timeout=10) as auth:
        forged = await auth.post(
            "/api/v1/auth/login",
            json={"email": user["email"], "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.77"},
        )
        assert forged.status_code == 200
        too_long = await auth.post(
            "/api/v1/auth/login",
            json={"email": user["email"], "password": PASSWORD},
            headers={"X-Forwarded-For": "9" * 60},
        )
        assert too_long.status_code == 200, too_long.text
    via_gateway = await log_in(api, user["email"])
    sessions = (await api.get("/api/v1/user/sessions", headers=via_gateway["headers"])).json()["data"]
    # A direct caller on loopback is not the gateway: its forged header was ignored.
    assert {s["ip_address"] for s in sessions} == {"127.0.0.1"}


async def test_metrics_are_served_on_internal_ports_only(stack, api: httpx2.AsyncClient):
    public = await api.get("/metrics")
    assert public.status_code == 404 and public.json()["success"] is False
    async with httpx2.AsyncClient(timeout=10) as client:
        for name in ("auth", "catalog"):
            response = await client.get(f"{stack.service_url(name)}/metrics")
            assert response.status_code == 404 and response.json()["success"] is False
        for name in ("gateway", "auth", "catalog"):
            response = await client.get(stack.metrics_url(name))
            assert response.status_code == 200 and "_total" in response.text, name


async def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        data = b""
        while chunk := await asyncio.wait_for(reader.read(65536), 30):
            data += chunk
        return data
    finally:
        writer.close()


async def test_a_malformed_chunk_size_is_400_in_the_envelope_on_every_process(stack):
    request = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    for url in (stack.url, stack.service_url("auth"), stack.service_url("catalog")):
        data = await raw_exchange(url, request)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), (url, data[:200])
        assert json.loads(body) == {"success": False, "error": "Malformed HTTP request"}


async def test_a_body_that_stops_arriving_is_408_on_every_process(stack):
    # Content-Length 100, nine bytes sent, then silence (the stack's body timeout is 5 s).
    request = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n123456789"
    for url in (stack.url, stack.service_url("auth")):
        data = await raw_exchange(url, request)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), (url, data[:200])
        assert json.loads(body) == {"success": False, "error": "Request body not received in time"}


async def test_tz_folders_and_malformed_images_are_refused_not_500(stack, api: httpx2.AsyncClient):
    headers = await admin(stack, api)
    draft = await api.post(
        "/api/v1/admin/events",
        headers=headers,
        json={
            "slug": f"tz-{uuid.uuid4().hex[:8]}",
            "title": "Tz Night",
            "start": "2031-10-01T20:00:00",
            "end": "2031-10-01T23:00:00",
        },
    )
    assert draft.status_code == 201, draft.text
    for folder in ("America", "Europe", "Etc"):
        response = await api.put(
            f"/api/v1/admin/events/{draft.json()['data']['id']}", json={"timezone": folder}, headers=headers
        )
        assert response.status_code == 422, (folder, response.text)
    bmp = b"BM" + struct.pack("<IHHI", 62, 0, 0, 54) + struct.pack("<I", 99)
    bmp += b"\0" * (62 - len(bmp))
    upload = await api.post("/api/v1/admin/media", headers=headers, files={"file": ("odd.bmp", bmp)})
    assert upload.status_code in (415, 422) and upload.json()["success"] is False
