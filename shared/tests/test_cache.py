"""The shared response cache: answers for every caller only, never one caller's to another."""

from __future__ import annotations

import httpx2
from fastapi import FastAPI, Request
from starlette.middleware import Middleware

from tdc_shared.cache import CacheMiddleware, ResponseCache


def _app(*, bypass_authorized: bool) -> tuple[FastAPI, list[str | None]]:
    seen: list[str | None] = []
    cache = ResponseCache(ttl=60, max_entries=100, max_age=30)
    app = FastAPI(
        middleware=[Middleware(CacheMiddleware, cache=cache, bypass_authorized=bypass_authorized)],
    )

    @app.get("/api/v1/things")
    async def things(request: Request) -> dict[str, str]:
        caller = request.headers.get("authorization")
        seen.append(caller)
        return {"for": caller or "anonymous"}

    @app.get("/api/v1/admin/things")
    async def admin_things() -> dict[str, int]:
        seen.append("admin")
        return {"n": len(seen)}

    return app, seen


async def test_a_signed_in_answer_is_never_kept_nor_served_when_bypassing() -> None:
    app, seen = _app(bypass_authorized=True)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as client:
        patron = await client.get("/api/v1/things", headers={"Authorization": "Bearer patron"})
        assert patron.json() == {"for": "Bearer patron"}
        assert "etag" not in patron.headers
        anonymous = await client.get("/api/v1/things")
        assert anonymous.json() == {"for": "anonymous"}
        again = await client.get("/api/v1/things")
        assert again.json() == {"for": "anonymous"}
        assert again.headers["etag"] == anonymous.headers["etag"]
        patron = await client.get("/api/v1/things", headers={"Authorization": "Bearer patron"})
        assert patron.json() == {"for": "Bearer patron"}
    # The anonymous answer was computed once; each signed-in request reached the app.
    assert seen == ["Bearer patron", None, "Bearer patron"]


async def test_without_bypass_every_caller_shares_the_entry_and_admin_paths_are_excluded() -> None:
    app, seen = _app(bypass_authorized=False)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as client:
        first = await client.get("/api/v1/things")
        second = await client.get("/api/v1/things", headers={"Authorization": "Bearer x"})
        assert second.json() == first.json() == {"for": "anonymous"}
        await client.get("/api/v1/admin/things")
        await client.get("/api/v1/admin/things")
    assert seen == [None, "admin", "admin"]
