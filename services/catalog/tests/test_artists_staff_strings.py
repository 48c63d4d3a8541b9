"""Artists, staff profiles and UI strings: reads with fallback, staff writes, errors."""

from __future__ import annotations

from catalog_testkit import make_artist, make_event, make_location, unique


async def test_artist_search_genre_and_translations(catalog):
    genre = unique("genre")
    name = unique("Vox")
    artist = await make_artist(
        catalog, name=name, genre=genre, tagline="Voices", bio="English bio", soundcloud_url="https://soundcloud.com/x"
    )
    await make_artist(catalog, genre=genre)
    await catalog.client.put(
        f"/api/v1/admin/artists/{artist['id']}/translations",
        json={"translations": {"fr": {"bio": "Bio française"}}},
        headers=catalog.staff,
    )
    found = (await catalog.client.get(f"/api/v1/artists?q={name}&lang=fr")).json()
    assert [a["slug"] for a in found["data"]] == [artist["slug"]]
    assert found["data"][0]["bio"] == "Bio française" and found["data"][0]["tagline"] == "Voices"
    assert found["data"][0]["links"]["soundcloud"] == "https://soundcloud.com/x"
    by_genre = (await catalog.client.get(f"/api/v1/artists?genre={genre}&per_page=1")).json()
    assert by_genre["meta"]["pagination"]["total"] == 2 and len(by_genre["data"]) == 1
    one = (await catalog.client.get(f"/api/v1/artists/{artist['slug']}?lang=it")).json()["data"]
    assert one["bio"] == "English bio"
    assert (await catalog.client.get(f"/api/v1/artists/{unique('nobody')}")).status_code == 404
    assert (await catalog.client.get("/api/v1/artists?q=" + "x" * 101)).status_code == 422
    updated = [e for e in await catalog.outbox("catalog.artist.updated") if e["id"] == artist["id"]]
    assert updated[-1]["translations"]["fr"]["bio"] == "Bio française"


async def test_artist_validation_and_delete(catalog):
    bad = await catalog.client.post(
        "/api/v1/admin/artists",
        json={"slug": unique("a"), "name": "A", "website_url": "ftp://x", "role": "admin"},
        headers=catalog.staff,
    )
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"website_url", "role"}
    location = await make_location(catalog)
    artist = await make_artist(catalog)
    event = await make_event(catalog, location["id"])
    await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}/lineup",
        json={"lineup": [{"artist_id": artist["id"]}]},
        headers=catalog.staff,
    )
    busy = await catalog.client.delete(f"/api/v1/admin/artists/{artist['id']}", headers=catalog.staff)
    assert busy.status_code == 409
    await catalog.client.put(f"/api/v1/admin/events/{event['id']}/lineup", json={"lineup": []}, headers=catalog.staff)
    assert (
        await catalog.client.delete(f"/api/v1/admin/artists/{artist['id']}", headers=catalog.staff)
    ).status_code == 204
    assert [e for e in await catalog.outbox("catalog.artist.deleted") if e["id"] == artist["id"]]
    assert (
        await catalog.client.delete(f"/api/v1/admin/artists/{artist['id']}", headers=catalog.user)
    ).status_code == 403


async def test_staff_profiles_with_translated_bios(catalog):
    slug = unique("kai")
    created = await catalog.client.post(
        "/api/v1/admin/staff",
        json={"slug": slug, "name": "Kai", "role_title": "Host", "bio": "Greets guests", "sort_order": -100},
        headers=catalog.staff,
    )
    assert created.status_code == 201
    profile = created.json()["data"]
    await catalog.client.put(
        f"/api/v1/admin/staff/{profile['id']}/translations",
        json={"translations": {"es": {"bio": "Recibe a los invitados"}}},
        headers=catalog.staff,
    )
    team = (await catalog.client.get("/api/v1/staff?lang=es")).json()["data"]
    kai = next(p for p in team if p["slug"] == slug)
    assert kai["bio"] == "Recibe a los invitados" and kai["role_title"] == "Host"
    hidden = await catalog.client.put(
        f"/api/v1/admin/staff/{profile['id']}", json={"is_active": False}, headers=catalog.staff
    )
    assert hidden.status_code == 200
    assert slug not in [p["slug"] for p in (await catalog.client.get("/api/v1/staff")).json()["data"]]
    assert (
        await catalog.client.post("/api/v1/admin/staff", json={"name": "x"}, headers=catalog.staff)
    ).status_code == 422
    assert (
        await catalog.client.delete(f"/api/v1/admin/staff/{profile['id']}", headers=catalog.staff)
    ).status_code == 204
    assert (await catalog.client.get(f"/api/v1/admin/staff/{profile['id']}", headers=catalog.staff)).status_code == 404


async def test_ui_strings_flat_map_with_english_fallback(catalog):
    key_a, key_b = f"test.{unique('a')}", f"test.{unique('b')}"
    a = await catalog.client.post("/api/v1/admin/i18n", json={"key": key_a, "text": "Hello"}, headers=catalog.staff)
    assert a.status_code == 201
    await catalog.client.post("/api/v1/admin/i18n", json={"key": key_b, "text": "Goodbye"}, headers=catalog.staff)
    response = await catalog.client.put(
        f"/api/v1/admin/i18n/{a.json()['data']['id']}/translations",
        json={"translations": {"it": {"text": "Ciao"}}},
        headers=catalog.staff,
    )
    assert response.status_code == 200 and response.json()["data"]["translations"]["it"]["text"] == "Ciao"
    italian = await catalog.client.get("/api/v1/i18n/it")
    assert italian.status_code == 200
    strings = italian.json()["data"]
    assert strings[key_a] == "Ciao" and strings[key_b] == "Goodbye"
    assert (await catalog.client.get("/api/v1/i18n/en")).json()["data"][key_a] == "Hello"
    assert (await catalog.client.get("/api/v1/i18n/de")).status_code == 404
    languages = (await catalog.client.get("/api/v1/i18n/languages")).json()["data"]
    assert [lang["code"] for lang in languages] == ["en", "it", "fr", "es"]
    assert languages[1]["native_name"] == "Italiano" and languages[1]["translated_strings"] >= 1

    duplicate = await catalog.client.post("/api/v1/admin/i18n", json={"key": key_a, "text": "x"}, headers=catalog.staff)
    assert duplicate.status_code == 422 and duplicate.json()["errors"] == {"key": ["already exists"]}
    bad_key = await catalog.client.post(
        "/api/v1/admin/i18n", json={"key": "no spaces", "text": "x"}, headers=catalog.staff
    )
    assert bad_key.status_code == 422 and "key" in bad_key.json()["errors"]
    removed = await catalog.client.delete(f"/api/v1/admin/i18n/{a.json()['data']['id']}", headers=catalog.staff)
    assert removed.status_code == 204
    assert key_a not in (await catalog.client.get("/api/v1/i18n/it")).json()["data"]
    assert (await catalog.client.post("/api/v1/admin/i18n", json={"key": "k", "text": "x"})).status_code == 401
