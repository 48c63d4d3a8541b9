"""The demo data: four languages, two categories, a members-only, a patrons-only and a
scheduled post; loaded once, into an empty blog only."""

from __future__ import annotations

from blog_testkit import make_app, make_settings, running


async def test_demo_data(mysql_url, amqp_url, db_prefix, bus_namespace, signing_key):
    settings = make_settings(mysql_url, amqp_url, f"{db_prefix}demo_", bus_namespace, demo_data=True)
    app = make_app(settings, signing_key)
    async with running(app) as client:
        posts = (await client.get("/api/v1/blog/posts")).json()["data"]
        assert len(posts) == 4
        assert {p["visibility"] for p in posts} == {"public", "members", "patrons"}
        assert sum(p["locked"] for p in posts) == 2
        assert len((await client.get("/api/v1/blog/categories")).json()["data"]) == 2
        for lang in ("it", "fr", "es"):
            titles = {p["title"] for p in (await client.get(f"/api/v1/blog/posts?lang={lang}")).json()["data"]}
            english = {p["title"] for p in posts}
            assert titles.isdisjoint(english), lang
        staff = {"Authorization": f"Bearer {signing_key.token(sub=1, role='admin')}"}
        summary = (await client.get("/api/v1/admin/blog/summary", headers=staff)).json()["data"]
        assert summary["scheduled"] == 1 and summary["next_scheduled_at"] is not None
    app = make_app(settings, signing_key)  # a second start finds the blog filled and adds nothing
    async with running(app) as client:
        assert len((await client.get("/api/v1/blog/posts")).json()["data"]) == 4
