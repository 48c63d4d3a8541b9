"""Gated posts, rule by rule: a body a caller may not read never reaches them, in a list, a
feed, a search, an excerpt, an error message or a bus event; and each standing reads what it
may (members: any account; patrons: any supporter; tier: a pledge of at least N cents)."""

from __future__ import annotations

import uuid

import aio_pika
import feedparser
import pytest
from blog_testkit import bearer, eventually, make_category, make_post

from tdc_shared.events import Event


def secret() -> str:
    # One word that appears only in a gated body, so finding it anywhere is a leak.
    return f"hiddenword{uuid.uuid4().hex[:10]}"


async def gated(blog, visibility: str, word: str, **fields):
    return await make_post(
        blog,
        visibility=visibility,
        title=f"Gated {visibility}",
        excerpt=f"Teaser for {visibility}",
        body=f"The body holds the {word} that only readers with access may see.",
        **fields,
    )


@pytest.mark.parametrize("visibility", ["members", "patrons", "tier"])
async def test_a_locked_post_answers_200_with_the_teaser_and_never_the_body(blog, visibility):
    word = secret()
    extra = {"required_cents": 1000} if visibility == "tier" else {}
    post = await gated(blog, visibility, word, **extra)
    response = await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")
    assert response.status_code == 200
    assert word not in response.text
    data = response.json()["data"]
    assert data["locked"] is True and data["body_html"] is None
    assert data["teaser"] == data["excerpt"] == f"Teaser for {visibility}"
    assert data["unlock"]["next_step"] == "sign_in"


async def test_each_standing_reads_what_it_may(blog):
    word = secret()
    members = await gated(blog, "members", word)
    patrons = await gated(blog, "patrons", word)
    tier = await gated(blog, "tier", word, required_cents=1000)
    cases = {
        # standing: (members post, patrons post, tier post) readable?
        "anonymous": ({}, (False, False, False)),
        "member": (blog.member, (True, False, False)),
        "patron at 5.00": (blog.patron, (True, True, False)),
        "patron at 20.00": (blog.big_patron, (True, True, True)),
        "staff": (blog.staff, (True, True, True)),
    }
    for name, (headers, expected) in cases.items():
        for post, readable in zip((members, patrons, tier), expected, strict=True):
            response = await blog.client.get(f"/api/v1/blog/posts/{post['slug']}", headers=headers)
            data = response.json()["data"]
            assert data["locked"] is (not readable), (name, post["visibility"])
            assert (word in response.text) is readable, (name, post["visibility"])


async def test_unlock_says_what_would_open_the_post_with_the_tier_name(blog, bus_namespace, amqp_url):
    tier_id = f"tier-{uuid.uuid4().hex[:6]}"
    await send_tier(amqp_url, bus_namespace, tier_id, 1500, {"en": {"title": "Nebula"}, "it": {"title": "Nebulosa"}})

    async def known() -> bool:
        return bool(await blog.db.fetch_value("SELECT 1 FROM patreon_tiers WHERE id = %s", (tier_id,)))

    await eventually(known)
    word = secret()
    post = await gated(blog, "tier", word, required_cents=1200)
    url = f"/api/v1/blog/posts/{post['slug']}"
    as_member = (await blog.client.get(url, headers=blog.member)).json()["data"]["unlock"]
    assert as_member["requires"] == "tier" and as_member["next_step"] == "become_patron"
    assert as_member["min_cents"] == 1200
    # The cheapest tier at or above 12.00 is ours unless a cheaper one above 12.00 exists.
    cheapest = await blog.db.fetch_one(
        "SELECT id FROM patreon_tiers WHERE amount_cents >= 1200 ORDER BY amount_cents, id LIMIT 1"
    )
    assert as_member["tier"]["id"] == cheapest["id"]
    if cheapest["id"] == tier_id:
        assert as_member["tier"] == {"id": tier_id, "amount_cents": 1500, "name": "Nebula"}
        italian = (await blog.client.get(url + "?lang=it", headers=blog.patron)).json()["data"]["unlock"]
        assert italian["next_step"] == "upgrade_tier" and italian["tier"]["name"] == "Nebulosa"
    members_post = await gated(blog, "members", word)
    hint = (await blog.client.get(f"/api/v1/blog/posts/{members_post['slug']}")).json()["data"]["unlock"]
    assert hint == {"requires": "sign_in", "next_step": "sign_in", "min_cents": None, "tier": None}
    patrons_post = await gated(blog, "patrons", word)
    hint = (await blog.client.get(f"/api/v1/blog/posts/{patrons_post['slug']}", headers=blog.member)).json()
    assert hint["data"]["unlock"]["requires"] == "patron" and hint["data"]["unlock"]["next_step"] == "become_patron"


async def send_tier(amqp_url: str, namespace: str, tier_id: str, cents: int, translations: dict) -> None:
    event = Event(
        type="membership.tier.updated",
        source="membership",
        data={"id": tier_id, "amount_cents": cents, "translations": translations},
    )
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(f"{namespace}.events")
        await exchange.publish(
            aio_pika.Message(
                event.to_json().encode(),
                message_id=str(event.id),
                type=event.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event.type,
        )


async def test_the_list_never_carries_a_gated_body(blog):
    word = secret()
    category = await make_category(blog)
    for visibility in ("members", "patrons"):
        await gated(blog, visibility, word, category_id=category["id"])
    for headers in ({}, blog.member):
        response = await blog.client.get(f"/api/v1/blog/posts?category={category['slug']}", headers=headers)
        assert len(response.json()["data"]) == 2
        assert word not in response.text
    # Even a reader who may open them gets the teaser in a list, never a body.
    response = await blog.client.get(f"/api/v1/blog/posts?category={category['slug']}", headers=blog.staff)
    assert word not in response.text
    assert {p["locked"] for p in response.json()["data"]} == {False}


async def test_the_excerpt_of_a_gated_post_is_never_taken_from_its_body(blog):
    word = secret()
    no_teaser = await make_post(blog, visibility="members", body=f"{word} opens the body.")
    public = await make_post(blog, body=f"{word} opens this public body.")
    listed = {p["slug"]: p for p in (await blog.client.get("/api/v1/blog/posts?per_page=100")).json()["data"]}
    assert listed[no_teaser["slug"]]["excerpt"] == ""
    assert listed[public["slug"]]["excerpt"].startswith(word)  # public posts may quote their body
    locked = (await blog.client.get(f"/api/v1/blog/posts/{no_teaser['slug']}")).json()["data"]
    assert locked["teaser"] == "" and word not in str(locked)


async def test_search_never_matches_a_gated_body_for_anyone(blog):
    # Chosen rule: bodies of gated posts are not indexed at all, so no caller (not even one who
    # may read the post) can learn of a hidden word from which posts a search returns.
    word = secret()
    post = await gated(blog, "patrons", word)
    for headers in ({}, blog.member, blog.patron, blog.staff):
        found = await blog.client.get(f"/api/v1/blog/posts?q={word}", headers=headers)
        assert found.status_code == 200 and found.json()["data"] == []
    # Its title and teaser are searchable like any public text.
    teaser_hit = (await blog.client.get("/api/v1/blog/posts?q=Teaser&per_page=100")).json()["data"]
    assert post["slug"] in {p["slug"] for p in teaser_hit}
    # Made public, the body becomes searchable; gated again, it is gone from the index again.
    await blog.client.patch(f"/api/v1/admin/blog/posts/{post['id']}", json={"visibility": "public"}, headers=blog.staff)
    assert [p["slug"] for p in (await blog.client.get(f"/api/v1/blog/posts?q={word}")).json()["data"]] == [post["slug"]]
    await blog.client.patch(
        f"/api/v1/admin/blog/posts/{post['id']}", json={"visibility": "members"}, headers=blog.staff
    )
    assert (await blog.client.get(f"/api/v1/blog/posts?q={word}")).json()["data"] == []
    indexed = await blog.db.fetch_all("SELECT search_text FROM post_digests WHERE post_id = %s", (post["id"],))
    assert indexed and all(word not in r["search_text"] for r in indexed)


async def test_feeds_never_carry_a_gated_body(blog):
    word = secret()
    post = await gated(blog, "patrons", word)
    for path in ("/api/v1/blog/feed.rss", "/api/v1/blog/feed.atom", "/api/v1/blog/feed.rss?lang=it"):
        for headers in ({}, blog.patron):
            response = await blog.client.get(path, headers=headers)
            assert response.status_code == 200
            assert word not in response.text
            entries = feedparser.parse(response.content).entries
            entry = next(e for e in entries if post["slug"] in e.link)
            assert entry.summary == "Teaser for patrons"


async def test_error_messages_never_carry_a_gated_body(blog):
    word = secret()
    post = await gated(blog, "tier", word, required_cents=99_999)
    answers = [
        await blog.client.get(f"/api/v1/blog/posts/{post['slug']}", headers=blog.patron),
        await blog.client.get(f"/api/v1/blog/posts/{post['slug']}x"),
        await blog.client.get(f"/api/v1/blog/posts/{post['slug']}?lang=xx"),
        await blog.client.get(f"/api/v1/blog/posts/{post['slug']}", headers=bearer("not-a-token")),
        await blog.client.post(f"/api/v1/admin/blog/posts/{post['id']}/publish", headers=blog.staff),
        await blog.client.patch(f"/api/v1/admin/blog/posts/{post['id']}", json={"body": 5}, headers=blog.staff),
        await blog.client.get(f"/api/v1/admin/blog/posts/{post['id']}", headers=blog.member),
    ]
    # A token that fails verification is no identity on a public route: the locked form.
    assert [a.status_code for a in answers] == [200, 404, 422, 200, 409, 422, 403]
    assert answers[3].json()["data"]["locked"] is True
    for answer in answers:
        assert word not in answer.text


async def test_bus_events_never_carry_a_gated_body(blog):
    word = secret()
    post = await gated(blog, "members", word)
    await blog.client.patch(f"/api/v1/admin/blog/posts/{post['id']}", json={"title": "Renamed"}, headers=blog.staff)
    await blog.client.post(f"/api/v1/admin/blog/posts/{post['id']}/unpublish", headers=blog.staff)
    events = await blog.outbox("blog.post.published") + await blog.outbox("blog.post.updated")
    mine = [e for e in events if e["id"] == post["id"]]
    assert len(mine) == 2
    published = mine[0]
    assert published["visibility"] == "members" and published["slug"] == post["slug"]
    assert published["translations"]["it"] == {"title": "Gated members", "excerpt": "Teaser for members"}
    assert published["published_at"].endswith("Z")
    assert set(published) == {
        "id", "slug", "translations", "visibility", "required_tier_id", "required_cents", "cover_url",
        "published_at", "category",
    }  # fmt: skip
    assert word not in await blog.all_outbox_text()
