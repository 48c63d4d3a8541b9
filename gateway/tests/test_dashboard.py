"""The admin dashboard: admins only, one section per service, and a sick service costs only its section."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from aiohttp import web

from tdc_gateway.app import Gateway
from tdc_gateway.settings import DEFAULT_ROUTES_DIR
from tdc_gateway.table import load_table
from tdc_shared.testing.keys import SigningKey

from .conftest import ORIGIN, JwksServer, closed_port_url, gateway_settings, running_gateway, serve_aiohttp

USERS = {"users": {"total": 3, "by_role": {"user": 1, "staff": 1, "admin": 1}}, "sessions": {"active": 2}}
CATALOG = {"events": {"by_status": {"draft": 1, "published": 2, "cancelled": 0}, "upcoming": 2}, "artists": 4}
MEMBERSHIP = {"supporters": {"active": 5, "linked": 3}}
BLOG = {"drafts": 1, "scheduled": 1, "published_this_month": 2, "published": 5, "next_scheduled_at": None}


@dataclass
class SummaryService:
    """A service's summary route, answering as it is told to."""

    path: str
    data: dict[str, Any]
    behaviour: str = "ok"
    seen: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(self.path, self.handler)
        return app

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.seen.append({"headers": {k.lower(): v for k, v in request.headers.items()}, "query": dict(request.query)})
        if self.behaviour == "slow":
            await asyncio.sleep(2)
        if self.behaviour == "forbidden":
            return web.json_response({"success": False, "error": "Admin account disabled"}, status=403)
        if self.behaviour == "html":
            return web.Response(text="<html>Bad Gateway</html>", status=502, content_type="text/html")
        if self.behaviour == "huge":
            return web.json_response({"success": True, "data": {"blob": "x" * 600_000}})
        if self.behaviour == "large":  # under the cap, but many chunks on the wire
            return web.json_response({"success": True, "data": {**self.data, "blob": "y" * 200_000}})
        return web.json_response({"success": True, "data": self.data})


FAKED = ("users", "catalog", "membership", "blog")


@contextlib.asynccontextmanager
async def dashboard_gateway(
    jwks_server: JwksServer, *, catalog_up: bool = True, **overrides: Any
) -> AsyncIterator[tuple[SummaryService, SummaryService, Gateway, httpx2.AsyncClient]]:
    auth = SummaryService("/api/v1/admin/users/summary", USERS)
    catalog = SummaryService("/api/v1/admin/events/summary", CATALOG)
    membership = SummaryService("/api/v1/admin/patreon/summary", MEMBERSHIP)
    blog = SummaryService("/api/v1/admin/blog/summary", BLOG)
    async with (
        serve_aiohttp(auth.app()) as auth.url,
        serve_aiohttp(catalog.app()) as catalog.url,
        serve_aiohttp(membership.app()) as membership.url,
        serve_aiohttp(blog.app()) as blog.url,
    ):
        upstreams = {
            "auth": auth.url,
            "catalog": catalog.url if catalog_up else closed_port_url(),
            "membership": membership.url,
            "blog": blog.url,
        }
        async with running_gateway(gateway_settings(jwks_server, upstreams, **overrides)) as (gateway, client):
            # Only the sections faked here; the others are proved end to end.
            assert gateway.dashboard is not None
            gateway.dashboard.sections = tuple(s for s in gateway.dashboard.sections if s.name in FAKED)
            yield auth, catalog, gateway, client


@pytest.fixture(scope="module")
async def stack(jwks_server: JwksServer) -> AsyncIterator[tuple[SummaryService, SummaryService, httpx2.AsyncClient]]:
    async with dashboard_gateway(jwks_server, gateway_dashboard_deadline_seconds=0.5) as (auth, catalog, _, client):
        yield auth, catalog, client


@pytest.fixture(autouse=True)
def _healthy(stack: Any) -> None:
    auth, catalog, _ = stack
    auth.behaviour = catalog.behaviour = "ok"
    auth.seen.clear()
    catalog.seen.clear()


def covered(sections: dict[str, Any]) -> dict[str, Any]:
    """The sections these tests run fake services for (the others have no service here)."""
    return {name: value for name, value in sections.items() if name in FAKED}


def bearer(key: SigningKey, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.token(sub=1, role=role)}"}


async def test_admin_gets_every_section_with_their_own_token(stack: Any, signing_key: SigningKey) -> None:
    auth, catalog, client = stack
    headers = {**bearer(signing_key, "admin"), "X-Request-Id": "dash-req-1"}
    response = await client.get("/api/v1/admin/dashboard", params={"lang": "it"}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert covered(body["data"]) == {"users": USERS, "catalog": CATALOG, "membership": MEMBERSHIP, "blog": BLOG}
    sections = covered(body["meta"]["sections"])
    assert sections == {
        "users": {"status": "ok", "service": "auth"},
        "catalog": {"status": "ok", "service": "catalog"},
        "membership": {"status": "ok", "service": "membership"},
        "blog": {"status": "ok", "service": "blog"},
    }
    assert body["meta"]["generated_at"].endswith("Z")
    assert response.headers["cache-control"] == "no-store"
    for service in (auth, catalog):
        [seen] = service.seen
        # Each service checks the admin's own token again, answers in the admin's language,
        # and logs under the same request id.
        assert seen["headers"]["authorization"] == headers["Authorization"]
        assert seen["headers"]["x-request-id"] == "dash-req-1"
        assert seen["query"] == {"lang": "it"}


async def test_language_comes_from_accept_language_when_no_lang_is_given(stack: Any, signing_key: SigningKey) -> None:
    auth, _, client = stack
    headers = {**bearer(signing_key, "admin"), "Accept-Language": "fr-FR,fr;q=0.9"}
    response = await client.get("/api/v1/admin/dashboard", headers=headers)
    assert response.status_code == 200
    assert auth.seen[0]["query"] == {"lang": "fr"}


async def test_unsupported_language_is_422(stack: Any, signing_key: SigningKey) -> None:
    auth, _, client = stack
    response = await client.get("/api/v1/admin/dashboard?lang=de", headers=bearer(signing_key, "admin"))
    assert response.status_code == 422
    assert response.json()["errors"] == {"lang": ["must be one of en, it, fr, es"]}
    assert auth.seen == []


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "Authentication required"),
        ({"Authorization": "Bearer not.a.token"}, 401, None),
        ({"Authorization": "Basic YTpi"}, 401, "Authorization header must be 'Bearer <token>'"),
        ("user", 403, "Admin access required"),
        ("staff", 403, "Admin access required"),
    ],
)
async def test_only_admins_may_see_it(
    stack: Any, signing_key: SigningKey, headers: Any, status: int, error: str | None
) -> None:
    auth, catalog, client = stack
    if isinstance(headers, str):
        headers = bearer(signing_key, headers)
    # A claimed identity header changes nothing: only the token counts.
    response = await client.get(
        "/api/v1/admin/dashboard", params={"lang": "de"}, headers={**headers, "X-User-Role": "admin"}
    )
    assert response.status_code == status  # authorization is decided before the query is even read
    body = response.json()
    assert body["success"] is False
    if error is not None:
        assert body["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert auth.seen == [] and catalog.seen == []


@pytest.mark.parametrize(
    ("behaviour", "state"),
    [
        ("forbidden", {"status": "error", "service": "catalog", "http_status": 403, "error": "Admin account disabled"}),
        (
            "html",
            {
                "status": "error",
                "service": "catalog",
                "http_status": 502,
                "error": "catalog answered 502 without the JSON envelope",
            },
        ),
        (
            "huge",
            {
                "status": "error",
                "service": "catalog",
                "http_status": 200,
                "error": "catalog answered 200 without the JSON envelope",
            },
        ),
        ("slow", {"status": "unavailable", "service": "catalog", "error": "catalog did not answer within 0.5 s"}),
    ],
)
async def test_a_failing_section_is_null_and_says_why(
    stack: Any, signing_key: SigningKey, behaviour: str, state: dict[str, Any]
) -> None:
    _, catalog, client = stack
    catalog.behaviour = behaviour
    response = await client.get("/api/v1/admin/dashboard", headers=bearer(signing_key, "admin"))
    assert response.status_code == 200
    body = response.json()
    assert covered(body["data"]) == {"users": USERS, "catalog": None, "membership": MEMBERSHIP, "blog": BLOG}
    assert body["meta"]["sections"]["users"]["status"] == "ok"
    assert body["meta"]["sections"]["catalog"] == state


async def test_a_large_section_under_the_cap_arrives_whole(stack: Any, signing_key: SigningKey) -> None:
    _, catalog, client = stack
    catalog.behaviour = "large"
    response = await client.get("/api/v1/admin/dashboard", headers=bearer(signing_key, "admin"))
    body = response.json()
    assert body["meta"]["sections"]["catalog"] == {"status": "ok", "service": "catalog"}
    assert body["data"]["catalog"]["blob"] == "y" * 200_000


async def test_a_service_that_is_down_is_unavailable(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    async with dashboard_gateway(jwks_server, catalog_up=False) as (_, _, _, client):
        response = await client.get("/api/v1/admin/dashboard", headers=bearer(signing_key, "admin"))
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["users"] == USERS
    assert body["data"]["catalog"] is None
    assert body["meta"]["sections"]["catalog"] == {
        "status": "unavailable",
        "service": "catalog",
        "error": "catalog is unreachable",
    }


async def test_browsers_of_the_frontend_get_cors_headers(stack: Any, signing_key: SigningKey) -> None:
    _, _, client = stack
    for headers in ({}, bearer(signing_key, "admin")):
        response = await client.get("/api/v1/admin/dashboard", headers={**headers, "Origin": ORIGIN})
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
    other = await client.get("/api/v1/admin/dashboard", headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers


async def test_the_dashboard_is_in_the_merged_openapi_with_bearer_security(stack: Any) -> None:
    _, _, client = stack
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/admin/dashboard"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert "admin: dashboard" in operation["tags"]


def test_the_routing_table_sends_it_to_the_gateway_under_the_admin_policy() -> None:
    # The same file drives a real Traefik, whose ForwardAuth then asks /_auth/admin first.
    route = load_table(DEFAULT_ROUTES_DIR).match("/api/v1/admin/dashboard")
    assert route is not None and route.local and route.policy == "admin"
