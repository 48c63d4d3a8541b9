"""Blog journeys through the gateway: a staff member writes, translates and schedules posts;
they go up by themselves; an anonymous reader and a member each read what their standing
allows; the feeds in two languages carry them, never a gated body.

A patron's read through the gateway, with a token that carries the Patreon tier from a real
link and webhook, is in test_membership_journeys.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import feedparser
import httpx2
import pytest

if TYPE_CHECKING:
    from conftest import BusListener

pytestmark = pytest.mark.e2e


async def sign_in(client: httpx2.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


async def new_member(client: httpx2.AsyncClient) -> dict[str, str]:
    password = f"pw-{uuid.uuid4().hex}"
    email = f"reader-{uuid.uuid4().hex[:10]}@example.com"
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "username": f"reader_{uuid.uuid4().hex[:10]}", "password": password},
    )
    assert registered.status_code == 202, registered.text
    return await sign_in(client, email, password)


async def write(client: httpx2.AsyncClient, staff: dict[str, str], **fields) -> dict:
    response = await client.post("/api/v1/admin/blog/posts", headers=staff, json=fields)
    assert response.status_code == 201, response.text
    post = response.json()["data"]
    translated = await client.put(
        f"/api/v1/admin/blog/posts/{post['id']}/translations",
        headers=staff,
        json={"translations": {"it": {"title": f"IT {fields['title']}"}}},
    )
    assert translated.status_code == 200, translated.text
    return post


async def schedule(client: httpx2.AsyncClient, staff: dict[str, str], post: dict, at: datetime) -> None:
    response = await client.post(
        f"/api/v1/admin/blog/posts/{post['id']}/publish",
        headers=staff,
        json={"publish_at": at.isoformat(timespec="seconds").replace("+00:00", "Z")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "scheduled"


async def until_public(client: httpx2.AsyncClient, slug: str) -> dict:
    async with asyncio.timeout(60):
        while True:
            response = await client.get(f"/api/v1/blog/posts/{slug}")
            if response.status_code == 200:
                return response.json()["data"]
            assert response.status_code == 404, response.text
            await asyncio.sleep(0.5)


async def test_staff_schedule_posts_that_readers_then_read_by_standing(
    stack, gateway: httpx2.AsyncClient, bus: BusListener
):
    staff = await sign_in(gateway, stack.admin_email, stack.admin_password)
    category = await gateway.post(
        "/api/v1/admin/blog/categories",
        headers=staff,
        json={"slug": f"journal-{uuid.uuid4().hex[:6]}", "name": "Journal"},
    )
    assert category.status_code == 201, category.text
    category_id = category.json()["data"]["id"]
    secret = f"backstage{uuid.uuid4().hex[:8]}"
    public = await write(
        gateway, staff, slug=f"open-night-{uuid.uuid4().hex[:6]}", title="Open night", category_id=category_id,
        body="Everyone is welcome at the [Cave](https://elsewhere.example/).",
    )  # fmt: skip
    members = await write(
        gateway, staff, slug=f"members-night-{uuid.uuid4().hex[:6]}", title="Members night", category_id=category_id,
        visibility="members", excerpt="Sign in for the backstage story.", body=f"The {secret} story.",
    )  # fmt: skip
    at = datetime.now(UTC) + timedelta(seconds=3)
    for post in (public, members):
        await schedule(gateway, staff, post, at)
        assert (await gateway.get(f"/api/v1/blog/posts/{post['slug']}")).status_code == 404

    # They go up by themselves; each one's event is written then, once.
    opened = await until_public(gateway, public["slug"])
    locked = await until_public(gateway, members["slug"])
    for post in (public, members):
        event = await bus.expect("blog.post.published", id=post["id"])
        assert event["data"]["slug"] == post["slug"] and secret not in str(event)

    # Anonymous: the public post whole (sanitized, external link marked), the members' one locked.
    assert opened["locked"] is False and 'rel="noopener nofollow"' in opened["body_html"]
    assert locked["locked"] is True and locked["body_html"] is None
    assert locked["teaser"] == "Sign in for the backstage story."
    assert locked["unlock"]["next_step"] == "sign_in"
    listed = await gateway.get(f"/api/v1/blog/posts?category={category.json()['data']['slug']}")
    assert {p["slug"] for p in listed.json()["data"]} == {public["slug"], members["slug"]}
    assert secret not in listed.text

    # A member reads it; an anonymous request right after still gets the locked form.
    member = await new_member(gateway)
    as_member = await gateway.get(f"/api/v1/blog/posts/{members['slug']}", headers=member)
    assert as_member.json()["data"]["locked"] is False and secret in as_member.json()["data"]["body_html"]
    again = await gateway.get(f"/api/v1/blog/posts/{members['slug']}")
    assert again.json()["data"]["locked"] is True and secret not in again.text
    italian = await gateway.get(f"/api/v1/blog/posts/{members['slug']}?lang=it", headers=member)
    assert italian.json()["data"]["title"] == "IT Members night"

    # Members may not write.
    refused = await gateway.post("/api/v1/admin/blog/posts", headers=member, json={"slug": "nope", "title": "Nope"})
    assert refused.status_code == 403

    # Feeds in two languages, with absolute links to the website and no gated body.
    slug = category.json()["data"]["slug"]
    rss = await gateway.get(f"/api/v1/blog/feed.rss?category={slug}")
    atom = await gateway.get(f"/api/v1/blog/feed.atom?lang=it&category={slug}")
    for response in (rss, atom):
        assert response.status_code == 200 and response.headers["etag"] and response.headers["last-modified"]
        assert secret not in response.text
    english, italian_feed = feedparser.parse(rss.content), feedparser.parse(atom.content)
    assert english.bozo == 0 and italian_feed.bozo == 0
    assert english.version == "rss20" and italian_feed.version == "atom10"
    assert {e.title for e in english.entries} == {"Open night", "Members night"}
    assert {e.title for e in italian_feed.entries} == {"IT Open night", "IT Members night"}
    frontend = stack.env.get("TDC_FRONTEND_URL", "http://localhost:5173")  # the site the stack links to
    assert all(e.link.startswith(f"{frontend}/blog/") for e in english.entries + italian_feed.entries)
    not_modified = await gateway.get(
        f"/api/v1/blog/feed.rss?category={slug}", headers={"If-None-Match": rss.headers["etag"]}
    )
    assert not_modified.status_code == 304

    summary = await gateway.get("/api/v1/admin/blog/summary", headers=staff)
    assert summary.status_code == 200 and summary.json()["data"]["published_this_month"] >= 2
