"""The answer cache: ETag and 304, language-aware keys, and invalidation here and in other replicas."""

from __future__ import annotations

import asyncio

from catalog_testkit import make_app, make_location, make_settings, running


async def test_etag_cache_control_and_304(catalog):
    location = await make_location(catalog)
    url = f"/api/v1/locations/{location['slug']}"
    first = await catalog.client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=30"
    assert first.headers["vary"] == "Accept-Language"
    assert first.headers["x-request-id"]
    second = await catalog.client.get(url)
    assert second.headers["etag"] == etag and second.content == first.content
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    not_modified = await catalog.client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    weak = await catalog.client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    assert (await catalog.client.get(url, headers={"If-None-Match": '"stale"'})).status_code == 200


async def test_languages_are_cached_apart(catalog):
    location = await make_location(catalog, tagline="Stars")
    await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}/translations",
        json={"translations": {"it": {"tagline": "Stelle"}}},
        headers=catalog.staff,
    )
    url = f"/api/v1/locations/{location['slug']}"
    for _ in range(2):
        assert (await catalog.client.get(url)).json()["data"]["tagline"] == "Stars"
        assert (await catalog.client.get(url, headers={"Accept-Language": "it"})).json()["data"]["tagline"] == "Stelle"
        assert (await catalog.client.get(url + "?lang=it")).json()["data"]["tagline"] == "Stelle"
        assert (await catalog.client.get(url + "?lang=IT")).json()["data"]["tagline"] == "Stelle"
    assert (await catalog.client.get(url + "?lang=xx")).status_code == 422


async def test_a_write_invalidates_at_once(catalog):
    location = await make_location(catalog, capacity=10)
    url = f"/api/v1/locations/{location['slug']}"
    assert (await catalog.client.get(url)).json()["data"]["capacity"] == 10
    await catalog.client.put(f"/api/v1/admin/locations/{location['id']}", json={"capacity": 11}, headers=catalog.staff)
    assert (await catalog.client.get(url)).json()["data"]["capacity"] == 11


async def test_errors_and_admin_reads_are_not_cached(catalog):
    cache = catalog.app.state.cache
    missing = await catalog.client.get("/api/v1/locations/not-there-yet")
    assert missing.status_code == 404 and "etag" not in missing.headers
    admin = await catalog.client.get("/api/v1/admin/locations", headers=catalog.staff)
    assert admin.status_code == 200 and "etag" not in admin.headers
    assert cache.get(("/api/v1/locations/not-there-yet", b"", "en")) is None
    assert cache.get(("/api/v1/admin/locations", b"", "en")) is None
    listed = await catalog.client.get("/api/v1/locations")
    assert "etag" in listed.headers  # only the cache sets it


async def test_other_replicas_drop_their_cache_on_our_events(
    catalog, mysql_url, amqp_url, db_prefix, bus_namespace, media_dir, signing_key
):
    # A second replica on the same schema and bus: its cache must follow writes made here.
    settings = make_settings(mysql_url, amqp_url, db_prefix, bus_namespace, media_dir)
    replica = make_app(settings, signing_key)
    async with running(replica) as client:
        await asyncio.wait_for(replica.state.event_bus.wait_ready(), 20)
        await asyncio.wait_for(catalog.app.state.event_bus.wait_ready(), 20)
        cleared = asyncio.Event()
        cache = replica.state.cache
        original_clear = cache.clear

        def clear_and_tell() -> None:
            original_clear()
            cleared.set()

        cache.clear = clear_and_tell
        location = await make_location(catalog, capacity=20)
        await asyncio.wait_for(cleared.wait(), 20)  # the replica heard of the new location
        cleared.clear()
        url = f"/api/v1/locations/{location['slug']}"
        assert (await client.get(url)).json()["data"]["capacity"] == 20
        assert len(cache) >= 1
        await catalog.client.put(
            f"/api/v1/admin/locations/{location['id']}", json={"capacity": 21}, headers=catalog.staff
        )
        await asyncio.wait_for(cleared.wait(), 20)
        assert (await client.get(url)).json()["data"]["capacity"] == 21


def test_the_cache_keeps_within_its_entry_and_byte_budgets():
    from tdc_shared.cache import ResponseCache

    cache = ResponseCache(ttl=60, max_entries=3, max_age=30, max_bytes=4000)
    for n in range(5):
        cache.store((f"/p{n}", b"", "en"), cache.generation, [], b"x" * 100)
    assert len(cache) == 3 and cache.get(("/p0", b"", "en")) is None and cache.get(("/p4", b"", "en"))
    cache.store(("/big", b"", "en"), cache.generation, [], b"y" * 900)
    cache.store(("/big2", b"", "en"), cache.generation, [], b"y" * 900)
    assert cache.bytes <= 4000
    cache.store(("/huge", b"", "en"), cache.generation, [], b"z" * 1001)  # over a quarter of the budget
    assert cache.get(("/huge", b"", "en")) is None
    stale = cache.generation
    cache.clear()
    cache.store(("/late", b"", "en"), stale, [], b"computed before the clear")
    assert len(cache) == 0 and cache.bytes == 0


async def test_concurrent_misses_share_one_computation(catalog, monkeypatch):
    from tdc_catalog.queries import locations

    calls = []
    original = locations.list_public

    async def counted(tx, lang):
        calls.append(lang)
        return await original(tx, lang)

    monkeypatch.setattr(locations, "list_public", counted)
    cache = catalog.app.state.cache
    cache.clear()
    # Bus events of earlier tests may still arrive; they must not empty the cache mid-test.
    monkeypatch.setattr(cache, "clear", lambda: None)
    answers = await asyncio.gather(*(catalog.client.get("/api/v1/locations?lang=fr") for _ in range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.headers["etag"] for a in answers}) == 1
    assert calls == ["fr"]


async def test_random_query_parameters_cannot_flood_the_cache(catalog, monkeypatch):
    import random
    import string

    location = await make_location(catalog)
    cache = catalog.app.state.cache
    cache.clear()
    # Bus events of earlier tests may still arrive; they must not empty the cache mid-test.
    monkeypatch.setattr(cache, "clear", lambda: None)
    rng = random.Random(7)
    path = "/api/v1/events"
    etags = set()
    for _ in range(1000):
        noise = "".join(rng.choices(string.ascii_lowercase, k=8))
        response = await catalog.client.get(
            f"{path}?x{noise}={rng.randint(0, 10**9)}&location={location['slug']}&utm_{noise}=1"
        )
        assert response.status_code == 200
        etags.add(response.headers["etag"])
    assert len(etags) == 1
    assert [key for key in cache._entries if key[0] == path] == [(path, f"location={location['slug']}".encode(), "en")]
    # Spellings of one request share that entry: order, defaults, booleans, enum case.
    for query in (
        f"per_page=20&location={location['slug']}",
        f"location={location['slug']}&page=1&lang=EN",
    ):
        assert (await catalog.client.get(f"{path}?{query}")).headers["etag"] in etags
    featured = [f"featured=TRUE&location={location['slug']}", f"location={location['slug']}&featured=1"]
    answers = [await catalog.client.get(f"{path}?{query}") for query in featured]
    assert answers[0].headers["etag"] == answers[1].headers["etag"]
    assert len([key for key in cache._entries if key[0] == path]) == 2
