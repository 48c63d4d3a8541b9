"""Public reads: the list (newest first, filters, full text), one post, translations with
English fallback field by field, categories and tags."""

from __future__ import annotations

from blog_testkit import make_category, make_post, make_tag, unique


async def test_list_is_newest_first_with_every_item_field(blog):
    category = await make_category(blog)
    tag = await make_tag(blog)
    older = await make_post(blog, category_id=category["id"], tags=[tag["slug"]], cover_url="/api/v1/media/3/large")
    newer = await make_post(blog, category_id=category["id"], author_name="Luna")
    response = await blog.client.get(f"/api/v1/blog/posts?category={category['slug']}")
    assert response.status_code == 200
    body = response.json()
    assert [p["slug"] for p in body["data"]] == [newer["slug"], older["slug"]]
    assert body["meta"]["pagination"]["total"] == 2
    item = body["data"][1]
    assert set(item) >= {
        "slug", "title", "excerpt", "cover_url", "category", "tags", "author", "published_at",
        "reading_minutes", "visibility", "locked",
    }  # fmt: skip
    assert item["cover_url"] == "/api/v1/media/3/large"
    assert item["category"]["slug"] == category["slug"]
    assert item["tags"] == [{"slug": tag["slug"], "name": "Techno"}]
    assert item["published_at"].endswith("Z") and len(item["published_at"]) == 20
    assert item["reading_minutes"] == 1 and item["locked"] is False
    assert body["data"][0]["author"] == {"display_name": "Luna"}
    assert "body_html" not in item and "body" not in item


async def test_pagination_and_tag_filter(blog):
    tag = await make_tag(blog)
    slugs = [(await make_post(blog, tags=[tag["slug"]]))["slug"] for _ in range(3)]
    first = (await blog.client.get(f"/api/v1/blog/posts?tag={tag['slug']}&per_page=2")).json()
    second = (await blog.client.get(f"/api/v1/blog/posts?tag={tag['slug']}&per_page=2&page=2")).json()
    assert [p["slug"] for p in first["data"] + second["data"]] == slugs[::-1]
    assert first["meta"]["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert (await blog.client.get("/api/v1/blog/posts?per_page=101")).status_code == 422
    assert (await blog.client.get("/api/v1/blog/posts?tag=Not%20A%20Slug")).status_code == 422


async def test_drafts_and_unpublished_posts_are_not_public(blog):
    draft = await make_post(blog, publish=False)
    assert (await blog.client.get(f"/api/v1/blog/posts/{draft['slug']}")).status_code == 404
    post = await make_post(blog)
    assert (await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")).status_code == 200
    down = await blog.client.post(f"/api/v1/admin/blog/posts/{post['id']}/unpublish", headers=blog.staff)
    assert down.status_code == 200 and down.json()["data"]["status"] == "unpublished"
    missing = await blog.client.get(f"/api/v1/blog/posts/{post['slug']}")
    assert missing.status_code == 404 and missing.json() == {"success": False, "error": "Post not found"}
    listed = await blog.client.get("/api/v1/blog/posts?per_page=100")
    assert post["slug"] not in {p["slug"] for p in listed.json()["data"]}


async def test_translations_fall_back_to_english_field_by_field(blog):
    post = await make_post(blog, title="Starlight", excerpt="Under the dome", body="English body")
    response = await blog.client.put(
        f"/api/v1/admin/blog/posts/{post['id']}/translations",
        json={"translations": {"it": {"title": "Luce di stelle"}, "fr": {"body": "Corps français"}}},
        headers=blog.staff,
    )
    assert response.status_code == 200, response.text
    url = f"/api/v1/blog/posts/{post['slug']}"
    italian = (await blog.client.get(url + "?lang=it")).json()["data"]
    assert italian["title"] == "Luce di stelle"
    assert italian["excerpt"] == "Under the dome" and italian["body_html"] == "<p>English body</p>\n"
    french = (await blog.client.get(url, headers={"Accept-Language": "fr-FR,fr;q=0.9"})).json()["data"]
    assert french["title"] == "Starlight" and french["body_html"] == "<p>Corps français</p>\n"
    spanish = (await blog.client.get(url + "?lang=es")).json()["data"]
    assert spanish["title"] == "Starlight"
    assert (await blog.client.get(url + "?lang=de")).status_code == 422


async def test_full_text_search_in_the_callers_language(blog):
    word = unique("zephyr").replace("-", "")
    post = await make_post(blog, title="Weekly notes", body=f"Tonight {word} plays the dome.")
    await blog.client.put(
        f"/api/v1/admin/blog/posts/{post['id']}/translations",
        json={"translations": {"it": {"title": "Note settimanali", "body": "Stasera suona la cupola."}}},
        headers=blog.staff,
    )
    english = (await blog.client.get(f"/api/v1/blog/posts?q={word}")).json()["data"]
    assert [p["slug"] for p in english] == [post["slug"]]
    # The Italian text has its own body: the English word is not in it.
    assert (await blog.client.get(f"/api/v1/blog/posts?q={word}&lang=it")).json()["data"] == []
    italian = (await blog.client.get("/api/v1/blog/posts?q=settimanali&lang=it")).json()["data"]
    assert post["slug"] in [p["slug"] for p in italian]
    # Spanish has no text of its own: it reads (and searches) the English.
    spanish = (await blog.client.get(f"/api/v1/blog/posts?q={word}&lang=es")).json()["data"]
    assert [p["slug"] for p in spanish] == [post["slug"]]


async def test_categories_and_tags_are_translated(blog):
    category = await make_category(blog, name="Music", description="Sets and mixes")
    tag = await make_tag(blog, name="Ambient")
    await blog.client.put(
        f"/api/v1/admin/blog/categories/{category['id']}/translations",
        json={"translations": {"it": {"name": "Musica"}}},
        headers=blog.staff,
    )
    await blog.client.put(
        f"/api/v1/admin/blog/tags/{tag['id']}/translations",
        json={"translations": {"fr": {"name": "Ambiant"}}},
        headers=blog.staff,
    )
    italian = (await blog.client.get("/api/v1/blog/categories?lang=it")).json()["data"]
    mine = next(c for c in italian if c["slug"] == category["slug"])
    assert mine == {"id": category["id"], "slug": category["slug"], "name": "Musica", "description": "Sets and mixes"}
    french = (await blog.client.get("/api/v1/blog/tags?lang=fr")).json()["data"]
    assert next(t for t in french if t["slug"] == tag["slug"])["name"] == "Ambiant"
    english = (await blog.client.get("/api/v1/blog/tags")).json()["data"]
    assert next(t for t in english if t["slug"] == tag["slug"])["name"] == "Ambient"
