"""Locations: public reads with field-by-field fallback, staff writes, validation, bus events."""

from __future__ import annotations

import pytest
from catalog_testkit import make_location, unique


async def test_create_returns_the_object_with_its_id(catalog):
    slug = unique("nebula")
    body = {
        "slug": slug,
        "name": "Nebula Dome",
        "mood_category": "cosmic_tech",
        "capacity": 120,
        "primary_color": "#1B1F4B",
        "mood_keywords": ["cosmic", "techno"],
        "slurl": "http://maps.secondlife.com/secondlife/Cave/1/2/3",
        "tagline": "Stars",
    }
    response = await catalog.client.post("/api/v1/admin/locations", json=body, headers=catalog.staff)
    assert response.status_code == 201
    data = response.json()["data"]
    assert isinstance(data["id"], int)
    assert data["slug"] == slug and data["capacity"] == 120 and data["mood_keywords"] == ["cosmic", "techno"]

    public = (await catalog.client.get(f"/api/v1/locations/{slug}")).json()["data"]
    assert public["theme"]["primary_color"] == "#1B1F4B"
    assert public["theme"]["mood_keywords"] == ["cosmic", "techno"]
    assert public["mood_category"] == "cosmic_tech"
    assert public["tagline"] == "Stars"
    listed = (await catalog.client.get("/api/v1/locations")).json()["data"]
    assert slug in [item["slug"] for item in listed]


async def test_partial_update_changes_only_the_fields_sent(catalog):
    location = await make_location(catalog, capacity=50, tagline="Old tagline")
    response = await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}", json={"capacity": 75}, headers=catalog.staff
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["capacity"] == 75 and data["tagline"] == "Old tagline" and data["name"] == "Test Venue"


async def test_translation_falls_back_to_english_field_by_field(catalog):
    location = await make_location(catalog, tagline="Under the stars", description="English description")
    response = await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}/translations",
        json={"translations": {"it": {"description": "Descrizione italiana"}, "fr": {"name": "Salle"}}},
        headers=catalog.staff,
    )
    assert response.status_code == 200
    assert response.json()["data"]["translations"]["it"]["description"] == "Descrizione italiana"

    italian = (await catalog.client.get(f"/api/v1/locations/{location['slug']}?lang=it")).json()["data"]
    assert italian["description"] == "Descrizione italiana"
    assert italian["tagline"] == "Under the stars"  # missing Italian tagline -> English
    assert italian["name"] == "Test Venue"
    french = await catalog.client.get(f"/api/v1/locations/{location['slug']}", headers={"Accept-Language": "fr-FR"})
    assert french.json()["data"]["name"] == "Salle"
    assert french.json()["data"]["description"] == "English description"
    spanish = (await catalog.client.get(f"/api/v1/locations/{location['slug']}?lang=es")).json()["data"]
    assert spanish["tagline"] == "Under the stars" and spanish["description"] == "English description"

    # A second call changes only the fields it sends; English can be set the same way.
    await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}/translations",
        json={"translations": {"it": {"tagline": "Sotto le stelle"}, "en": {"tagline": "Beneath the stars"}}},
        headers=catalog.staff,
    )
    italian = (await catalog.client.get(f"/api/v1/locations/{location['slug']}?lang=it")).json()["data"]
    assert italian["tagline"] == "Sotto le stelle" and italian["description"] == "Descrizione italiana"
    english = (await catalog.client.get(f"/api/v1/locations/{location['slug']}")).json()["data"]
    assert english["tagline"] == "Beneath the stars"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"primary_color": "red"}, "primary_color"),
        ({"primary_color": "#12345"}, "primary_color"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": -5}, "capacity"),
        ({"mood_category": "spooky"}, "mood_category"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"slug": "trailing-"}, "slug"),
        ({"is_admin": True}, "is_admin"),
        ({"id": 99}, "id"),
        ({"slurl": "javascript:alert(1)"}, "slurl"),
        ({"sort_order": 10**12}, "sort_order"),
        ({"mood_keywords": ["a,b"]}, "mood_keywords.0"),
        ({"mood_keywords": [f"k{n}" for n in range(11)]}, "mood_keywords"),
        ({"description": "é" * 10_001}, "description"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_fields_are_field_errors(catalog, body, field):
    full = {"slug": unique("loc"), "name": "X", "mood_category": "hybrid", **body}
    response = await catalog.client.post("/api/v1/admin/locations", json=full, headers=catalog.staff)
    assert response.status_code == 422
    payload = response.json()
    assert payload["success"] is False and payload["error"] == "Validation failed"
    assert field in payload["errors"], payload


async def test_unknown_fields_are_refused_on_update(catalog):
    location = await make_location(catalog)
    response = await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}", json={"created_at": "2020-01-01"}, headers=catalog.staff
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"created_at": ["unknown field"]}


async def test_required_fields_cannot_be_nulled(catalog):
    location = await make_location(catalog)
    response = await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}", json={"name": None}, headers=catalog.staff
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"name": ["may not be null"]}


async def test_slugs_are_unique(catalog):
    location = await make_location(catalog)
    body = {"slug": location["slug"], "name": "Twin", "mood_category": "hybrid"}
    response = await catalog.client.post("/api/v1/admin/locations", json=body, headers=catalog.staff)
    assert response.status_code == 422
    assert response.json()["errors"] == {"slug": ["already taken"]}
    other = await make_location(catalog)
    response = await catalog.client.put(
        f"/api/v1/admin/locations/{other['id']}", json={"slug": location["slug"]}, headers=catalog.staff
    )
    assert response.status_code == 422 and response.json()["errors"] == {"slug": ["already taken"]}


async def test_unsupported_translation_language_is_refused(catalog):
    location = await make_location(catalog)
    response = await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}/translations",
        json={"translations": {"de": {"tagline": "Sterne"}}},
        headers=catalog.staff,
    )
    assert response.status_code == 422
    assert "translations.de.[key]" in response.json()["errors"]


async def test_authorization(catalog):
    body = {"slug": unique("loc"), "name": "X", "mood_category": "hybrid"}
    anonymous = await catalog.client.post("/api/v1/admin/locations", json=body)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"success": False, "error": "Authentication required"}
    plain = await catalog.client.post("/api/v1/admin/locations", json=body, headers=catalog.user)
    assert plain.status_code == 403
    assert plain.json() == {"success": False, "error": "Staff access required"}
    admin = await catalog.client.post("/api/v1/admin/locations", json=body, headers=catalog.admin)
    assert admin.status_code == 201
    bad = await catalog.client.delete("/api/v1/admin/locations/1", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


async def test_missing_and_inactive_locations_are_404(catalog):
    missing = await catalog.client.get(f"/api/v1/locations/{unique('none')}")
    assert missing.status_code == 404 and missing.json()["success"] is False
    location = await make_location(catalog, is_active=False)
    assert (await catalog.client.get(f"/api/v1/locations/{location['slug']}")).status_code == 404
    assert (
        await catalog.client.put("/api/v1/admin/locations/999999", json={}, headers=catalog.staff)
    ).status_code == 404


async def test_unknown_lang_is_422(catalog):
    response = await catalog.client.get("/api/v1/locations?lang=de")
    assert response.status_code == 422
    assert "lang" in response.json()["errors"]


async def test_changes_are_published_through_the_outbox(catalog):
    location = await make_location(catalog)
    await catalog.client.put(
        f"/api/v1/admin/locations/{location['id']}/translations",
        json={"translations": {"es": {"name": "Sala"}}},
        headers=catalog.staff,
    )
    events = [e for e in await catalog.outbox("catalog.location.updated") if e["id"] == location["id"]]
    assert len(events) == 2
    last = events[-1]
    assert last["slug"] == location["slug"] and last["name"] == "Test Venue"
    assert last["translations"]["es"]["name"] == "Sala"
    assert last["translations"]["it"]["name"] == "Test Venue"


async def test_delete(catalog):
    location = await make_location(catalog)
    response = await catalog.client.delete(f"/api/v1/admin/locations/{location['id']}", headers=catalog.staff)
    assert response.status_code == 204
    assert (await catalog.client.get(f"/api/v1/locations/{location['slug']}")).status_code == 404
    assert [e for e in await catalog.outbox("catalog.location.deleted") if e["id"] == location["id"]]
    again = await catalog.client.delete(f"/api/v1/admin/locations/{location['id']}", headers=catalog.staff)
    assert again.status_code == 404
