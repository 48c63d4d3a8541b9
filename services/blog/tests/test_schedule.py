"""Scheduled publication: a post appears at its time and not before, its event is written then,
exactly one claimer publishes it however many replicas poll, and a post that fell due while
the service was down goes up when it comes back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from blog_testkit import eventually, make_app, make_post, make_settings, running

from tdc_blog.app import MIGRATIONS
from tdc_blog.queries import schedule
from tdc_blog.queries.common import utc_now
from tdc_blog.scheduler import publish_due
from tdc_shared.db import Database
from tdc_shared.events import MIGRATIONS as BUS_MIGRATIONS
from tdc_shared.migrations import migrate


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def schedule_post(blog, at: datetime) -> dict:
    post = await make_post(blog, publish=False)
    response = await blog.client.post(
        f"/api/v1/admin/blog/posts/{post['id']}/publish", json={"publish_at": iso(at)}, headers=blog.staff
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "scheduled" and data["publish_at"] == iso(at)
    return data


async def published_events(blog, post_id: int) -> int:
    return sum(1 for e in await blog.outbox("blog.post.published") if e["id"] == post_id)


async def test_a_scheduled_post_stays_hidden_until_its_time(blog):
    post = await schedule_post(blog, datetime.now(UTC) + timedelta(hours=1))
    assert (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).status_code == 404
    listed = (await blog.client.get("/api/v1/blog/posts?per_page=100")).json()["data"]
    assert post["slug"] not in {p["slug"] for p in listed}
    assert await published_events(blog, post["id"]) == 0
    # Its time comes (moved to the past, as the clock would): the running scheduler publishes it.
    await blog.db.execute(
        "UPDATE posts SET publish_at = %s WHERE id = %s", (utc_now() - timedelta(seconds=1), post["id"])
    )

    async def visible() -> bool:
        return (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).status_code == 200

    await eventually(visible)
    assert await published_events(blog, post["id"]) == 1
    stored = (await blog.client.get(f"/api/v1/admin/blog/posts/{post['id']}", headers=blog.staff)).json()["data"]
    assert stored["status"] == "published"


async def test_a_post_scheduled_seconds_ahead_goes_up_by_itself(blog):
    post = await schedule_post(blog, datetime.now(UTC) + timedelta(seconds=2))

    async def visible() -> bool:
        return (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).status_code == 200

    await eventually(visible, timeout=30)
    assert await published_events(blog, post["id"]) == 1


async def test_a_past_publish_at_publishes_now_and_unpublish_cancels_a_schedule(blog):
    post = await make_post(blog, publish=False)
    now = await blog.client.post(
        f"/api/v1/admin/blog/posts/{post['id']}/publish",
        json={"publish_at": "2020-01-01T00:00:00Z"},
        headers=blog.staff,
    )
    assert now.json()["data"]["status"] == "published"
    later = await schedule_post(blog, datetime.now(UTC) + timedelta(days=2))
    cancelled = await blog.client.post(f"/api/v1/admin/blog/posts/{later['id']}/unpublish", headers=blog.staff)
    assert cancelled.json()["data"]["status"] == "draft" and cancelled.json()["data"]["publish_at"] is None


@pytest.fixture
async def quiet_schema(mysql_url, db_prefix) -> AsyncIterator[str]:
    """A migrated blog schema that no running scheduler polls: the claimers here are the only ones."""
    prefix = f"{db_prefix}claim{uuid.uuid4().hex[:6]}_"
    schema = f"{prefix}blog"
    await migrate(mysql_url, schema, [BUS_MIGRATIONS, MIGRATIONS])
    yield schema


async def due_posts(db: Database, count: int) -> list[int]:
    ids = []
    async with db.transaction() as tx:
        for n in range(count):
            ids.append(
                await tx.execute(
                    "INSERT INTO posts (slug, status, author_name, title, body, publish_at) "
                    "VALUES (%s, 'scheduled', 'Staff', %s, 'Body', %s)",
                    (f"due-{uuid.uuid4().hex[:8]}-{n}", f"Due {n}", utc_now() - timedelta(minutes=1)),
                )
            )
    return ids


async def test_two_concurrent_claimers_split_the_due_posts(mysql_url, quiet_schema):
    first, second = Database(mysql_url, quiet_schema), Database(mysql_url, quiet_schema)
    try:
        ids = await due_posts(first, 6)
        async with first.transaction() as tx_a:
            held = await schedule.claim_due(tx_a, utc_now(), 3)
            # While A holds its three, B neither waits for them nor takes them: it gets the rest.
            async with second.transaction() as tx_b:
                taken = await asyncio.wait_for(schedule.claim_due(tx_b, utc_now(), 100), 10)
        assert len(held) == 3 and set(held).isdisjoint(taken) and sorted(held + taken) == sorted(ids)
        statuses = await first.fetch_all("SELECT status FROM posts")
        assert {r["status"] for r in statuses} == {"published"}
        # Nothing is left to claim: a third round finds nothing.
        async with second.transaction() as tx:
            assert await schedule.claim_due(tx, utc_now(), 100) == []
    finally:
        await first.close()
        await second.close()


async def test_concurrent_rounds_write_one_event_per_post(mysql_url, quiet_schema):
    pools = [Database(mysql_url, quiet_schema, pool_size=2) for _ in range(3)]
    try:
        ids = await due_posts(pools[0], 9)
        rounds = await asyncio.gather(*(publish_due(pool, 1) for pool in pools))
        claimed = [post_id for found in rounds for post_id in found]
        assert sorted(claimed) == sorted(ids)  # each once, by exactly one claimer
        rows = await pools[0].fetch_all("SELECT payload FROM outbox WHERE event_type = 'blog.post.published'")
        published = sorted(json.loads(r["payload"])["data"]["id"] for r in rows)
        assert published == sorted(ids)
    finally:
        for pool in pools:
            await pool.close()


async def test_a_post_due_while_the_service_was_down_is_published_at_start(
    mysql_url, amqp_url, db_prefix, bus_namespace, signing_key
):
    prefix = f"{db_prefix}restart_"
    settings = make_settings(mysql_url, amqp_url, prefix, bus_namespace)
    app = make_app(settings, signing_key)
    staff = {"Authorization": f"Bearer {signing_key.token(sub=7, role='staff')}"}
    async with running(app) as client:
        created = await client.post(
            "/api/v1/admin/blog/posts", json={"slug": "while-down", "title": "While down"}, headers=staff
        )
        post_id = created.json()["data"]["id"]
        at = iso(datetime.now(UTC) + timedelta(hours=1))
        await client.post(f"/api/v1/admin/blog/posts/{post_id}/publish", json={"publish_at": at}, headers=staff)
    # The service is down; its time passes meanwhile.
    db = Database(mysql_url, f"{prefix}blog")
    try:
        await db.execute("UPDATE posts SET publish_at = %s WHERE id = %s", (utc_now() - timedelta(minutes=5), post_id))
        assert await db.fetch_value("SELECT status FROM posts WHERE id = %s", (post_id,)) == "scheduled"
    finally:
        await db.close()
    app = make_app(settings, signing_key)
    async with running(app) as client:

        async def up() -> bool:
            return (await client.get("/api/v1/blog/posts/while-down")).status_code == 200

        await eventually(up)
        events = await app.state.db.fetch_all("SELECT payload FROM outbox WHERE event_type = 'blog.post.published'")
        assert len(events) == 1
