"""Demo data: a living club in four languages, loaded once."""

from __future__ import annotations

from catalog_testkit import make_app, make_settings, running

from tdc_catalog import demo


async def test_demo_catalog_is_complete_and_loaded_once(
    mysql_url, amqp_url, db_prefix, bus_namespace, media_dir, signing_key
):
    settings = make_settings(mysql_url, amqp_url, f"{db_prefix}demo_", bus_namespace, media_dir, demo_data=True)
    app = make_app(settings, signing_key)
    async with running(app) as client:
        locations = (await client.get("/api/v1/locations")).json()["data"]
        assert sorted(loc["mood_category"] for loc in locations) == ["cosmic_tech", "hybrid", "warm_intimate"]
        events = (await client.get("/api/v1/events?lang=it&per_page=100")).json()
        assert events["meta"]["pagination"]["total"] >= 20
        first = events["data"][0]
        assert first["lineup"] and first["title"] != first["slug"]
        assert first["subtitle"] == "Una notte al Dreamer's Cave"
        for lang in ("fr", "es"):
            strings = (await client.get(f"/api/v1/i18n/{lang}")).json()["data"]
            assert strings["nav.events"] != "Events"
        assert len((await client.get("/api/v1/staff?lang=fr")).json()["data"]) == 3
        assert (await client.get("/api/v1/artists")).json()["meta"]["pagination"]["total"] == 6

        # A restart (or a second replica) finds the catalog filled and adds nothing.
        assert await demo.load_into(app.state.db) is False
        again = (await client.get("/api/v1/events?per_page=100")).json()["meta"]["pagination"]["total"]
        assert again == events["meta"]["pagination"]["total"]
