"""RSS 2.0 and Atom 1.0 feeds: valid for feedparser, per language and category, stable GUIDs,
absolute links to the website, ETag and Last-Modified with 304."""

from __future__ import annotations

import feedparser
import pytest
from blog_testkit import FRONTEND, make_category, make_post


@pytest.fixture
async def category_with_posts(blog):
    category = await make_category(blog, name="Feeds")
    await blog.client.put(
        f"/api/v1/admin/blog/categories/{category['id']}/translations",
        json={"translations": {"it": {"name": "Flussi"}}},
        headers=blog.staff,
    )
    posts = []
    for n in range(3):
        post = await make_post(blog, category_id=category["id"], title=f"Night {n} & <friends>", excerpt=f"Teaser {n}")
        await blog.client.put(
            f"/api/v1/admin/blog/posts/{post['id']}/translations",
            json={"translations": {"it": {"title": f"Serata {n}"}}},
            headers=blog.staff,
        )
        posts.append(post)
    return category, posts


@pytest.mark.parametrize(("path", "version"), [("feed.rss", "rss20"), ("feed.atom", "atom10")])
async def test_feeds_parse_without_bozo_in_two_languages(blog, category_with_posts, path, version):
    category, posts = category_with_posts
    english = await blog.client.get(f"/api/v1/blog/{path}?category={category['slug']}")
    italian = await blog.client.get(f"/api/v1/blog/{path}?lang=it&category={category['slug']}")
    for response in (english, italian):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/" + ("rss" if version == "rss20" else "atom"))
    en, it = feedparser.parse(english.content), feedparser.parse(italian.content)
    for feed in (en, it):
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert feed.version == version
        assert len(feed.entries) == 3
    assert [e.title for e in en.entries] == ["Night 2 & <friends>", "Night 1 & <friends>", "Night 0 & <friends>"]
    assert [e.title for e in it.entries] == ["Serata 2", "Serata 1", "Serata 0"]
    assert it.feed.title.endswith("Flussi") and en.feed.title.endswith("Feeds")
    newest = posts[-1]
    assert en.entries[0].link == f"{FRONTEND}/blog/{newest['slug']}"
    assert it.entries[0].link == f"{FRONTEND}/blog/{newest['slug']}?lang=it"
    assert en.entries[0].summary == "Teaser 2"
    assert en.entries[0].id != it.entries[0].id  # one GUID per post and language
    assert all(e.link.startswith(FRONTEND + "/") for e in en.entries + it.entries)


async def test_guids_are_stable_when_a_slug_changes(blog, category_with_posts):
    category, posts = category_with_posts
    url = f"/api/v1/blog/feed.atom?category={category['slug']}"
    before = feedparser.parse((await blog.client.get(url)).content).entries[0]
    await blog.client.patch(
        f"/api/v1/admin/blog/posts/{posts[-1]['id']}", json={"slug": posts[-1]["slug"] + "-renamed"}, headers=blog.staff
    )
    after = feedparser.parse((await blog.client.get(url)).content).entries[0]
    assert after.link.endswith("-renamed") and after.id == before.id


async def test_etag_last_modified_and_304(blog, category_with_posts):
    category, _ = category_with_posts
    url = f"/api/v1/blog/feed.rss?category={category['slug']}"
    first = await blog.client.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert last_modified.endswith("GMT")
    again = await blog.client.get(url)
    assert again.headers["etag"] == etag and again.content == first.content
    assert (await blog.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    # Signed-in callers skip the cache: the route itself answers 304 the same way.
    assert (await blog.client.get(url, headers={**blog.member, "If-None-Match": etag})).status_code == 304
    since = await blog.client.get(url, headers={**blog.member, "If-Modified-Since": last_modified})
    assert since.status_code == 304
    old = await blog.client.get(url, headers={**blog.member, "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert old.status_code == 200


async def test_feed_size_and_unknown_category(blog):
    assert (await blog.client.get("/api/v1/blog/feed.rss?category=no-such-thing")).status_code == 404
    assert (await blog.client.get("/api/v1/blog/feed.atom?lang=xx")).status_code == 422
    for _ in range(3):
        await make_post(blog)
    total = (await blog.client.get("/api/v1/blog/posts")).json()["meta"]["pagination"]["total"]
    entries = feedparser.parse((await blog.client.get("/api/v1/blog/feed.rss")).content).entries
    assert len(entries) == min(total, blog.app.state.settings.blog_feed_size)
