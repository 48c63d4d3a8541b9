"""Staff routes: authorization, validation in field errors, status transitions, categories in
use, deletion, and the dashboard summary."""

from __future__ import annotations

import pytest
from blog_testkit import make_category, make_post, make_tag, unique

from tdc_blog.models import MAX_MARKDOWN_CHARS

ADMIN_READS = [
    "/api/v1/admin/blog/posts",
    "/api/v1/admin/blog/categories",
    "/api/v1/admin/blog/tags",
    "/api/v1/admin/blog/summary",
]


@pytest.mark.parametrize("path", ADMIN_READS)
async def test_admin_routes_need_staff(blog, path):
    assert (await blog.client.get(path)).status_code == 401
    refused = await blog.client.get(path, headers=blog.member)
    assert refused.status_code == 403 and refused.json()["success"] is False
    assert (await blog.client.get(path, headers=blog.patron)).status_code == 403
    assert (await blog.client.get(path, headers=blog.staff)).status_code == 200
    assert (await blog.client.get(path, headers=blog.admin)).status_code == 200


async def test_admin_writes_refuse_users(blog):
    post = await make_post(blog, publish=False)
    attempts = [
        ("POST", "/api/v1/admin/blog/posts", {"slug": unique("x"), "title": "x"}),
        ("PATCH", f"/api/v1/admin/blog/posts/{post['id']}", {"title": "x"}),
        ("PUT", f"/api/v1/admin/blog/posts/{post['id']}/translations", {"translations": {"it": {"title": "x"}}}),
        ("POST", f"/api/v1/admin/blog/posts/{post['id']}/publish", None),
        ("POST", f"/api/v1/admin/blog/posts/{post['id']}/unpublish", None),
        ("DELETE", f"/api/v1/admin/blog/posts/{post['id']}", None),
        ("POST", "/api/v1/admin/blog/categories", {"slug": unique("c"), "name": "x"}),
        ("POST", "/api/v1/admin/blog/tags", {"slug": unique("t"), "name": "x"}),
    ]
    for method, path, body in attempts:
        response = await blog.client.request(method, path, json=body, headers=blog.member)
        assert response.status_code == 403, (method, path)
    stored = (await blog.client.get(f"/api/v1/admin/blog/posts/{post['id']}", headers=blog.staff)).json()["data"]
    assert stored["status"] == "draft" and stored["title"] == post["title"]


async def test_staff_read_drafts_and_gated_bodies(blog):
    draft = await make_post(blog, publish=False, visibility="patrons", body="**Draft** body")
    listed = (await blog.client.get("/api/v1/admin/blog/posts?status=draft&per_page=100", headers=blog.staff)).json()
    assert draft["id"] in {p["id"] for p in listed["data"]}
    one = (await blog.client.get(f"/api/v1/admin/blog/posts/{draft['id']}", headers=blog.admin)).json()["data"]
    assert one["body"] == "**Draft** body" and one["body_html"] == "<p><strong>Draft</strong> body</p>\n"
    bad = await blog.client.get("/api/v1/admin/blog/posts?status=lost", headers=blog.staff)
    assert bad.status_code == 422 and "status" in bad.json()["errors"]


async def field_errors(blog, method: str, path: str, body) -> dict:
    response = await blog.client.request(method, path, json=body, headers=blog.staff)
    assert response.status_code == 422, response.text
    return response.json()["errors"]


async def test_post_validation_in_field_errors(blog):
    taken = await make_post(blog, publish=False)
    path = "/api/v1/admin/blog/posts"
    ok_body = {"slug": unique("fine"), "title": "Fine"}
    assert "color" in await field_errors(blog, "POST", path, {**ok_body, "color": "red"})
    assert (await field_errors(blog, "POST", path, {**ok_body, "color": "red"}))["color"] == ["unknown field"]
    assert "slug" in await field_errors(blog, "POST", path, {**ok_body, "slug": "Not URL safe!"})
    assert "slug" in await field_errors(blog, "POST", path, {**ok_body, "slug": "a/../b"})
    assert (await field_errors(blog, "POST", path, {**ok_body, "slug": taken["slug"]}))["slug"] == ["already taken"]
    assert "title" in await field_errors(blog, "POST", path, {"slug": unique("x")})
    assert "body" in await field_errors(blog, "POST", path, {**ok_body, "body": "x" * (MAX_MARKDOWN_CHARS + 1)})
    assert "visibility" in await field_errors(blog, "POST", path, {**ok_body, "visibility": "friends"})
    assert "required_cents" in await field_errors(blog, "POST", path, {**ok_body, "visibility": "tier"})
    assert "required_cents" in await field_errors(
        blog, "POST", path, {**ok_body, "visibility": "tier", "required_cents": -5}
    )
    assert "category_id" in await field_errors(blog, "POST", path, {**ok_body, "category_id": 999_999})
    assert "tags" in await field_errors(blog, "POST", path, {**ok_body, "tags": ["no-such-tag-here"]})
    for cover in ("javascript:alert(1)", "https://evil.example/x.png", "/api/v1/media/abc"):
        assert "cover_url" in await field_errors(blog, "POST", path, {**ok_body, "cover_url": cover})
    patch = f"/api/v1/admin/blog/posts/{taken['id']}"
    assert (await field_errors(blog, "PATCH", patch, {"title": None}))["title"] == ["may not be null"]
    assert "required_cents" in await field_errors(blog, "PATCH", patch, {"visibility": "tier"})
    translations = f"{patch}/translations"
    assert "translations.de.[key]" in await field_errors(
        blog, "PUT", translations, {"translations": {"de": {"title": "x"}}}
    )
    assert "translations.it.color" in await field_errors(
        blog, "PUT", translations, {"translations": {"it": {"color": "x"}}}
    )
    publish = f"{patch}/publish"
    assert "publish_at" in await field_errors(blog, "POST", publish, {"publish_at": "tomorrow"})
    assert "publish_at" in await field_errors(blog, "POST", publish, {"publish_at": 1700000000})
    assert "publish_at" in await field_errors(blog, "POST", publish, {"publish_at": "2999-01-01T00:00:00Z"})
    assert "when" in await field_errors(blog, "POST", publish, {"when": "now"})
    assert (await blog.client.patch("/api/v1/admin/blog/posts/999999", json={}, headers=blog.staff)).status_code == 404


async def test_status_transitions_and_their_events(blog):
    post = await make_post(blog, publish=False)
    path = f"/api/v1/admin/blog/posts/{post['id']}"
    assert (await blog.client.post(f"{path}/unpublish", headers=blog.staff)).status_code == 409
    published = await blog.client.post(f"{path}/publish", headers=blog.staff)
    assert published.json()["data"]["status"] == "published" and published.json()["data"]["published_at"]
    assert (await blog.client.post(f"{path}/publish", headers=blog.staff)).status_code == 409
    await blog.client.patch(path, json={"title": "Changed"}, headers=blog.staff)
    down = await blog.client.post(f"{path}/unpublish", headers=blog.staff)
    assert down.json()["data"]["status"] == "unpublished"
    again = await blog.client.post(f"{path}/publish", headers=blog.staff)
    assert again.json()["data"]["status"] == "published"
    assert (await blog.client.delete(path, headers=blog.staff)).status_code == 204
    assert (await blog.client.get(path, headers=blog.staff)).status_code == 404

    def mine(events):
        return [e for e in events if e["id"] == post["id"]]

    assert len(mine(await blog.outbox("blog.post.published"))) == 2
    assert [e["translations"]["en"]["title"] for e in mine(await blog.outbox("blog.post.updated"))] == ["Changed"]
    assert mine(await blog.outbox("blog.post.unpublished")) == [
        {"id": post["id"], "slug": post["slug"]},
        {"id": post["id"], "slug": post["slug"]},
    ]


async def test_drafts_changes_are_not_announced(blog):
    post = await make_post(blog, publish=False)
    await blog.client.patch(f"/api/v1/admin/blog/posts/{post['id']}", json={"title": "Quiet"}, headers=blog.staff)
    await blog.client.delete(f"/api/v1/admin/blog/posts/{post['id']}", headers=blog.staff)
    for event_type in ("blog.post.published", "blog.post.updated", "blog.post.unpublished"):
        assert all(e["id"] != post["id"] for e in await blog.outbox(event_type))


async def test_a_category_in_use_cannot_be_deleted(blog):
    category = await make_category(blog)
    for _ in range(2):
        await make_post(blog, publish=False, category_id=category["id"])
    refused = await blog.client.delete(f"/api/v1/admin/blog/categories/{category['id']}", headers=blog.staff)
    assert refused.status_code == 409
    body = refused.json()
    assert body["success"] is False and "2 post(s)" in body["error"]
    assert body["errors"] == {"category": ["in use by 2 post(s)"]}
    empty = await make_category(blog)
    assert (
        await blog.client.delete(f"/api/v1/admin/blog/categories/{empty['id']}", headers=blog.staff)
    ).status_code == 204
    assert (
        await blog.client.delete(f"/api/v1/admin/blog/categories/{empty['id']}", headers=blog.staff)
    ).status_code == 404


async def test_categories_and_tags_rename_and_delete(blog):
    category = await make_category(blog)
    renamed = await blog.client.patch(
        f"/api/v1/admin/blog/categories/{category['id']}",
        json={"name": "Renamed", "slug": unique("renamed")},
        headers=blog.staff,
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Renamed"
    other = await make_category(blog)
    clash = await blog.client.patch(
        f"/api/v1/admin/blog/categories/{other['id']}",
        json={"slug": renamed.json()["data"]["slug"]},
        headers=blog.staff,
    )
    assert clash.status_code == 422 and clash.json()["errors"] == {"slug": ["already taken"]}
    tag = await make_tag(blog)
    post = await make_post(blog, tags=[tag["slug"]])
    assert (
        await blog.client.patch(f"/api/v1/admin/blog/tags/{tag['id']}", json={"name": "Dub"}, headers=blog.staff)
    ).json()["data"]["name"] == "Dub"
    listed = (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).json()["data"]
    assert listed["tags"] == [{"slug": tag["slug"], "name": "Dub"}]
    assert (await blog.client.delete(f"/api/v1/admin/blog/tags/{tag['id']}", headers=blog.staff)).status_code == 204
    assert (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).json()["data"]["tags"] == []
    assert "name" in (
        await field_errors(blog, "POST", "/api/v1/admin/blog/tags", {"slug": unique("t"), "name": "", "x": 1})
    )


async def test_summary_counts_drafts_scheduled_and_this_month(blog):
    before = (await blog.client.get("/api/v1/admin/blog/summary", headers=blog.staff)).json()["data"]
    await make_post(blog, publish=False)
    await make_post(blog)
    scheduled = await make_post(blog, publish=False)
    await blog.client.post(
        f"/api/v1/admin/blog/posts/{scheduled['id']}/publish",
        json={"publish_at": "2099-01-01T10:00:00+02:00"},
        headers=blog.staff,
    )
    after = (await blog.client.get("/api/v1/admin/blog/summary", headers=blog.staff)).json()["data"]
    assert after["drafts"] == before["drafts"] + 1
    assert after["scheduled"] == before["scheduled"] + 1
    assert after["published_this_month"] == before["published_this_month"] + 1
    assert after["next_scheduled_at"] is not None and after["next_scheduled_at"].endswith("Z")
    stored = (await blog.client.get(f"/api/v1/admin/blog/posts/{scheduled['id']}", headers=blog.staff)).json()["data"]
    assert stored["publish_at"] == "2099-01-01T08:00:00Z"  # offsets are kept as UTC
