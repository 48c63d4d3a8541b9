"""The staff summary: counts per status and table, and the next published events in a language.

Exact totals need a catalog nobody else writes to, so these tests run the app on schemas of
their own instead of the session's shared `catalog`.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from catalog_testkit import Catalog, make_app, make_artist, make_event, make_location, make_settings, running, unique
from PIL import Image

URL = "/api/v1/admin/events/summary"


@dataclass
class Seeded:
    catalog: Catalog
    # Upcoming published events, in start order (the one under way first).
    upcoming: list[dict[str, Any]] = field(default_factory=list)
    italian_event: dict[str, Any] = field(default_factory=dict)
    english_only_event: dict[str, Any] = field(default_factory=dict)
    homeless_event: dict[str, Any] = field(default_factory=dict)
    grotto: dict[str, Any] = field(default_factory=dict)
    deck: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def fresh_app(mysql_url, amqp_url, db_prefix, bus_namespace, media_dir, signing_key):
    def start(name: str):
        settings = make_settings(mysql_url, amqp_url, f"{db_prefix}{name}_", bus_namespace, media_dir)
        return make_app(settings, signing_key)

    return start


@pytest.fixture(scope="module")
async def seeded(fresh_app, signing_key) -> AsyncIterator[Seeded]:
    app = fresh_app("summary")
    async with running(app) as client:
        catalog = Catalog(app, client, signing_key)
        yield await _seed(catalog)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


async def _translate(catalog: Catalog, kind: str, row_id: int, texts: dict[str, Any]) -> None:
    response = await catalog.client.put(
        f"/api/v1/admin/{kind}/{row_id}/translations", json={"translations": texts}, headers=catalog.staff
    )
    assert response.status_code == 200, response.text


async def _seed(catalog: Catalog) -> Seeded:
    seeded = Seeded(catalog)
    seeded.grotto = await make_location(catalog, name="Crystal Grotto")
    await _translate(catalog, "locations", seeded.grotto["id"], {"it": {"name": "Grotta di Cristallo"}})
    seeded.deck = await make_location(catalog, name="Sky Deck")  # English only
    await make_artist(catalog)
    await make_artist(catalog)
    staff = await catalog.client.post(
        "/api/v1/admin/staff", json={"slug": unique("host"), "name": "Host"}, headers=catalog.staff
    )
    assert staff.status_code == 201, staff.text
    image = io.BytesIO()
    Image.new("RGB", (20, 10), (10, 200, 10)).save(image, "PNG")
    media = await catalog.client.post(
        "/api/v1/admin/media", files={"file": ("dot.png", image.getvalue())}, headers=catalog.staff
    )
    assert media.status_code == 201, media.text

    # Drafts (one with nothing but a slug) and a cancelled upcoming one: none of them upcoming.
    await make_event(catalog, seeded.grotto["id"], publish=False)
    bare = await catalog.client.post("/api/v1/admin/events", json={"slug": unique("bare")}, headers=catalog.staff)
    assert bare.status_code == 201, bare.text
    cancelled = await make_event(catalog, seeded.grotto["id"], start="2031-05-01T20:00:00Z", end="2031-05-01T23:00:00Z")
    cancel = await catalog.client.post(f"/api/v1/admin/events/{cancelled['id']}/cancel", headers=catalog.staff)
    assert cancel.status_code == 200, cancel.text
    # Published and over: counted as published, not upcoming.
    await make_event(catalog, seeded.deck["id"], start="2020-01-01T20:00:00Z", end="2020-01-01T23:00:00Z")

    # Published and under way: started an hour ago, still upcoming, and first by start.
    now = datetime.now(UTC).replace(microsecond=0)
    under_way = await make_event(
        catalog,
        seeded.deck["id"],
        title="Still Dancing",
        start=_iso(now - timedelta(hours=1)),
        end=_iso(now + timedelta(hours=2)),
    )
    # Seven future ones, created out of start order: July 7th first, July 1st last.
    future = {}
    for day in (7, 3, 5, 2, 6, 4, 1):
        future[day] = await make_event(
            catalog,
            seeded.grotto["id"] if day % 2 else seeded.deck["id"],
            title=f"July {day}",
            start=f"2031-07-0{day}T20:00:00Z",
            end=f"2031-07-0{day}T23:00:00Z",
        )
    seeded.upcoming = [under_way, *(future[day] for day in sorted(future))]

    seeded.italian_event = future[1]  # at the Grotto, which has an Italian name
    await _translate(catalog, "events", future[1]["id"], {"it": {"title": "Primo luglio"}})
    # An Italian row without a title: the English title must show through, field by field.
    seeded.english_only_event = future[2]  # at the Deck, English only
    await _translate(catalog, "events", future[2]["id"], {"it": {"subtitle": "Solo il sottotitolo"}})
    # The API never lets a public event lose its venue, but the column is nullable (imported or
    # hand-fixed rows): the summary must list such an event with a null location, not drop it.
    seeded.homeless_event = future[3]
    await catalog.db.execute("UPDATE events SET location_id = NULL WHERE id = %s", (future[3]["id"],))
    return seeded


async def _summary(catalog: Catalog, query: str = "", **headers: str) -> dict[str, Any]:
    response = await catalog.client.get(URL + query, headers={**catalog.staff, **headers})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


async def test_counts_every_status_and_table(seeded):
    data = await _summary(seeded.catalog)
    assert set(data) == {"events", "next_events", "artists", "locations", "staff", "media"}
    assert data["events"] == {"by_status": {"draft": 2, "published": 9, "cancelled": 1}, "upcoming": 8}
    assert (data["artists"], data["locations"], data["staff"], data["media"]) == (2, 2, 1, 1)


async def test_an_empty_catalog_still_has_every_status(fresh_app, signing_key):
    app = fresh_app("summary_empty")
    async with running(app) as client:
        response = await client.get(URL, headers=Catalog(app, client, signing_key).admin)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "events": {"by_status": {"draft": 0, "published": 0, "cancelled": 0}, "upcoming": 0},
        "next_events": [],
        "artists": 0,
        "locations": 0,
        "staff": 0,
        "media": 0,
    }


async def test_next_events_are_the_first_five_upcoming_by_start(seeded):
    data = await _summary(seeded.catalog)
    assert [e["id"] for e in data["next_events"]] == [e["id"] for e in seeded.upcoming[:5]]
    assert [e["title"] for e in data["next_events"]] == ["Still Dancing", "July 1", "July 2", "July 3", "July 4"]
    first = data["next_events"][1]
    assert first == {
        "id": seeded.italian_event["id"],
        "slug": seeded.italian_event["slug"],
        "title": "July 1",
        "start_utc": "2031-07-01T20:00:00Z",
        "end_utc": "2031-07-01T23:00:00Z",
        "location": {"id": seeded.grotto["id"], "name": "Crystal Grotto"},
    }
    # The same strings the public event routes give for the same event.
    public = (await seeded.catalog.client.get(f"/api/v1/events/{first['slug']}")).json()["data"]
    assert (first["start_utc"], first["end_utc"]) == (public["start_utc"], public["end_utc"])
    under_way = (await seeded.catalog.client.get(f"/api/v1/events/{seeded.upcoming[0]['slug']}")).json()["data"]
    assert data["next_events"][0]["start_utc"] == under_way["start_utc"]


@pytest.mark.parametrize(("query", "headers"), [("?lang=it", {}), ("", {"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"})])
async def test_titles_and_venues_in_italian_with_english_fallback(seeded, query, headers):
    data = await _summary(seeded.catalog, query, **headers)
    by_id = {e["id"]: e for e in data["next_events"]}
    italian = by_id[seeded.italian_event["id"]]
    assert italian["title"] == "Primo luglio"
    assert italian["location"] == {"id": seeded.grotto["id"], "name": "Grotta di Cristallo"}
    english = by_id[seeded.english_only_event["id"]]
    assert english["title"] == "July 2"
    assert english["location"] == {"id": seeded.deck["id"], "name": "Sky Deck"}


async def test_english_is_the_default_and_lang_en_ignores_other_translations(seeded):
    for query in ("", "?lang=en"):
        by_id = {e["id"]: e for e in (await _summary(seeded.catalog, query))["next_events"]}
        assert by_id[seeded.italian_event["id"]]["title"] == "July 1"
        assert by_id[seeded.italian_event["id"]]["location"]["name"] == "Crystal Grotto"


async def test_an_event_without_a_location_is_listed_with_null(seeded):
    data = await _summary(seeded.catalog, "?lang=it")
    homeless = [e for e in data["next_events"] if e["id"] == seeded.homeless_event["id"]]
    assert homeless == [
        {
            "id": seeded.homeless_event["id"],
            "slug": seeded.homeless_event["slug"],
            "title": "July 3",
            "start_utc": "2031-07-03T20:00:00Z",
            "end_utc": "2031-07-03T23:00:00Z",
            "location": None,
        }
    ]


async def test_staff_or_admin_only(seeded):
    client = seeded.catalog.client
    anonymous = await client.get(URL)
    assert anonymous.status_code == 401 and anonymous.json()["success"] is False
    # Authorization is decided before the language: a stranger learns nothing from a 422.
    assert (await client.get(URL + "?lang=de")).status_code == 401
    assert (await client.get(URL, headers={"Authorization": "Bearer not-a-token"})).status_code == 401
    user = await client.get(URL, headers=seeded.catalog.user)
    assert user.status_code == 403 and user.json()["success"] is False
    assert (await client.get(URL, headers=seeded.catalog.admin)).status_code == 200
    assert (await client.get(URL, headers=seeded.catalog.staff)).status_code == 200


@pytest.mark.parametrize("query", ["?lang=de", "?lang=", "?lang=xx-YY"])
async def test_an_unsupported_language_is_422(seeded, query):
    response = await seeded.catalog.client.get(URL + query, headers=seeded.catalog.staff)
    assert response.status_code == 422
    assert response.json()["success"] is False and "lang" in response.json()["errors"]


async def test_summary_is_never_served_from_the_public_cache(seeded):
    catalog = seeded.catalog
    first = await catalog.client.get(URL, headers=catalog.staff)
    assert first.status_code == 200 and "etag" not in first.headers
    assert catalog.app.state.cache.get((URL, b"", "en")) is None
    # A row written behind the app's back (no cache clear) shows at once.
    artist_id = await catalog.db.execute(
        "INSERT INTO artists (slug, name) VALUES (%s, %s)", (unique("sneaky"), "Written Directly")
    )
    try:
        assert (await _summary(catalog))["artists"] == first.json()["data"]["artists"] + 1
    finally:
        await catalog.db.execute("DELETE FROM artists WHERE id = %s", (artist_id,))
