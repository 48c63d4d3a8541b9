"""Helpers for the blog tests: building the app, tokens for each standing, making posts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2

from tdc_blog.app import build
from tdc_blog.settings import BlogSettings
from tdc_shared.auth import KeySet, TokenVerifier
from tdc_shared.testing.keys import AUDIENCE, ISSUER, SigningKey, jwks

FRONTEND = "https://dreamerscave.example"


def make_settings(mysql_url: str, amqp_url: str, prefix: str, namespace: str, **extra: Any) -> BlogSettings:
    values: dict[str, Any] = {
        "env": "test",
        "mysql_url": mysql_url,
        "amqp_url": amqp_url,
        "db_prefix": prefix,
        "bus_namespace": namespace,
        "frontend_url": FRONTEND,
        "log_level": "WARNING",
        "blog_scheduler_poll_seconds": 0.2,
        **extra,
    }
    return BlogSettings(**values)


def make_app(settings: BlogSettings, signing_key: SigningKey):
    return build(
        settings,
        verifier=lambda s: TokenVerifier(KeySet.static(jwks(signing_key)), issuer=ISSUER, audience=AUDIENCE),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Blog:
    """A running app with a client and a token for every standing."""

    def __init__(self, app, client: httpx2.AsyncClient, signing_key: SigningKey) -> None:
        self.app = app
        self.client = client
        self.key = signing_key
        self.staff = bearer(signing_key.token(sub=7, role="staff"))
        self.admin = bearer(signing_key.token(sub=1, role="admin"))
        self.member = bearer(signing_key.token(sub=9, role="user"))
        # A patron at 5.00 and one at 20.00 (tier ids as membership would put them in the token).
        self.patron = bearer(signing_key.token(sub=10, role="user", patreon_tier="t-500", patreon_cents=500))
        self.big_patron = bearer(signing_key.token(sub=11, role="user", patreon_tier="t-2000", patreon_cents=2000))

    @property
    def db(self):
        return self.app.state.db

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all("SELECT payload FROM outbox WHERE event_type = %s ORDER BY id", (event_type,))
        return [json.loads(r["payload"])["data"] for r in rows]

    async def all_outbox_text(self) -> str:
        rows = await self.db.fetch_all("SELECT payload FROM outbox")
        return "\n".join(r["payload"] for r in rows)


@contextlib.asynccontextmanager
async def running(app) -> AsyncIterator[httpx2.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://blog.test") as client:
            yield client


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"


async def make_category(blog: Blog, **fields: Any) -> dict[str, Any]:
    body = {"slug": unique("cat"), "name": "Club news", **fields}
    response = await blog.client.post("/api/v1/admin/blog/categories", json=body, headers=blog.staff)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def make_tag(blog: Blog, **fields: Any) -> dict[str, Any]:
    body = {"slug": unique("tag"), "name": "Techno", **fields}
    response = await blog.client.post("/api/v1/admin/blog/tags", json=body, headers=blog.staff)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def make_post(blog: Blog, *, publish: bool = True, **fields: Any) -> dict[str, Any]:
    body = {"slug": unique("post"), "title": "A night at the Cave", "body": "Some *words* here.", **fields}
    response = await blog.client.post("/api/v1/admin/blog/posts", json=body, headers=blog.staff)
    assert response.status_code == 201, response.text
    post = response.json()["data"]
    if publish:
        response = await blog.client.post(f"/api/v1/admin/blog/posts/{post['id']}/publish", headers=blog.staff)
        assert response.status_code == 200, response.text
        post = response.json()["data"]
    return post


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, every: float = 0.1) -> None:
    """Poll `check` until it holds (bounded), instead of asserting on timing."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(every)
