"""The answer cache keeps anonymous answers only: one caller's standing never reaches another.
Writes clear it here at once and in other replicas through the blog's own events."""

from __future__ import annotations

import asyncio
import uuid

from blog_testkit import make_app, make_category, make_post, make_settings, running


async def gated_post(blog):
    word = f"cachedsecret{uuid.uuid4().hex[:8]}"
    post = await make_post(blog, visibility="patrons", excerpt="Teaser", body=f"Patrons read {word}.")
    return post, word


async def test_a_patrons_answer_is_never_served_to_an_anonymous_caller(blog):
    post, word = await gated_post(blog)
    url = f"/api/v1/blog/posts/{post['slug']}"
    patron = await blog.client.get(url, headers=blog.patron)
    assert patron.json()["data"]["locked"] is False and word in patron.text
    assert "etag" not in patron.headers  # nothing with a token is stored
    assert patron.headers["cache-control"] == "private, no-store"  # nor kept by browsers and proxies
    for _ in range(2):
        anonymous = await blog.client.get(url)
        assert anonymous.status_code == 200
        assert anonymous.json()["data"]["locked"] is True and word not in anonymous.text
    assert "etag" in anonymous.headers  # this one came from (or went into) the cache
    listed = await blog.client.get("/api/v1/blog/posts", headers=blog.patron)
    assert "etag" not in listed.headers and listed.headers["cache-control"] == "private, no-store"


async def test_an_anonymous_answer_in_the_cache_is_never_served_to_a_patron(blog):
    post, word = await gated_post(blog)
    url = f"/api/v1/blog/posts/{post['slug']}"
    for _ in range(2):
        anonymous = await blog.client.get(url)
        assert anonymous.json()["data"]["locked"] is True
    cached = anonymous.headers["etag"]
    patron = await blog.client.get(url, headers={**blog.patron, "If-None-Match": cached})
    assert patron.status_code == 200 and patron.json()["data"]["locked"] is False and word in patron.text
    member = await blog.client.get(url, headers=blog.member)
    assert member.json()["data"]["locked"] is True  # a member is not a patron: locked, computed afresh
    assert member.json()["data"]["unlock"]["next_step"] == "become_patron"


async def test_etag_304_and_invalidation_on_write(blog):
    post = await make_post(blog, title="Before")
    url = f"/api/v1/blog/posts/{post['slug']}"
    first = await blog.client.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=30"
    assert (await blog.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    await blog.client.patch(f"/api/v1/admin/blog/posts/{post['id']}", json={"title": "After"}, headers=blog.staff)
    after = await blog.client.get(url)
    assert after.json()["data"]["title"] == "After" and after.headers["etag"] != etag


async def test_other_replicas_drop_their_cache_on_our_events(
    blog, mysql_url, amqp_url, db_prefix, bus_namespace, signing_key
):
    replica = make_app(make_settings(mysql_url, amqp_url, db_prefix, bus_namespace), signing_key)
    async with running(replica) as client:
        await asyncio.wait_for(replica.state.event_bus.wait_ready(), 20)
        await asyncio.wait_for(blog.app.state.event_bus.wait_ready(), 20)
        category = await make_category(blog, name="Old name")
        url = "/api/v1/blog/categories"

        def name_in(response) -> str:
            return next(c["name"] for c in response.json()["data"] if c["id"] == category["id"])

        assert name_in(await client.get(url)) == "Old name"
        cleared = asyncio.Event()
        original = replica.state.cache.clear

        def clear_and_tell() -> None:
            original()
            cleared.set()

        replica.state.cache.clear = clear_and_tell
        try:
            await blog.client.patch(
                f"/api/v1/admin/blog/categories/{category['id']}", json={"name": "New name"}, headers=blog.staff
            )
            await asyncio.wait_for(cleared.wait(), 20)
        finally:
            replica.state.cache.clear = original
        assert name_in(await client.get(url)) == "New name"
