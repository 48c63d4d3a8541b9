"""Catalog journeys through the gateway: staff build a club night (venue, artists, picture, lineup,
translations), publish and cancel it; visitors read it in their language, as JSON and as ICS,
with caching; the bus carries what calendar and email consumers need."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import TYPE_CHECKING

import httpx2
import pytest
from icalendar import Calendar
from PIL import Image

if TYPE_CHECKING:
    from conftest import BusListener

pytestmark = pytest.mark.e2e


@pytest.fixture
async def staff(stack, api: httpx2.AsyncClient) -> dict[str, str]:
    response = await api.post("/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"


def photo() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "TellTaleCamera"
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (20, 40, 160)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_staff_build_publish_and_cancel_a_night(api: httpx2.AsyncClient, staff: dict[str, str], bus: BusListener):
    venue = await api.post(
        "/api/v1/admin/locations",
        headers=staff,
        json={
            "slug": unique("nebula"),
            "name": "Nebula Dome",
            "mood_category": "cosmic_tech",
            "capacity": 80,
            "primary_color": "#1b1f4b",
            "tagline": "Dance under the stars",
        },
    )
    assert venue.status_code == 201, venue.text
    location = venue.json()["data"]
    await bus.expect("catalog.location.updated", id=location["id"])

    upload = await api.post("/api/v1/admin/media", headers=staff, files={"file": ("night.jpg", photo(), "image/jpeg")})
    assert upload.status_code == 201, upload.text
    picture = upload.json()["data"]

    artists = []
    for name in ("Luna Vox", "DJ Orbit"):
        created = await api.post("/api/v1/admin/artists", headers=staff, json={"slug": unique("artist"), "name": name})
        assert created.status_code == 201
        artists.append(created.json()["data"])

    draft = await api.post(
        "/api/v1/admin/events",
        headers=staff,
        json={
            "slug": unique("starfall"),
            "title": "Starfall",
            "start": "2031-09-05T20:00:00",
            "end": "2031-09-05T23:00:00",
            "location_id": location["id"],
            "image_media_id": picture["id"],
        },
    )
    assert draft.status_code == 201, draft.text
    event = draft.json()["data"]
    assert (await api.get(f"/api/v1/events/{event['slug']}")).status_code == 404

    lineup = await api.put(
        f"/api/v1/admin/events/{event['id']}/lineup",
        headers=staff,
        json={"lineup": [{"artist_id": a["id"], "set_start": f"2031-09-05T2{i}:00:00"} for i, a in enumerate(artists)]},
    )
    assert lineup.status_code == 200
    texts = await api.put(
        f"/api/v1/admin/events/{event['id']}/translations",
        headers=staff,
        json={"translations": {"it": {"title": "Pioggia di stelle"}}},
    )
    assert texts.status_code == 200
    published = await api.post(f"/api/v1/admin/events/{event['id']}/publish", headers=staff)
    assert published.status_code == 200

    message = await bus.expect("catalog.event.published", id=event["id"])
    data = message["data"]
    assert message["source"] == "catalog"
    assert data["start_utc"] == "2031-09-06T03:00:00Z" and data["timezone"] == "America/Los_Angeles"
    assert data["location"]["slug"] == location["slug"]
    assert [a["name"] for a in data["artists"]] == ["Luna Vox", "DJ Orbit"]
    assert data["translations"]["it"]["title"] == "Pioggia di stelle"
    assert data["translations"]["fr"]["title"] == "Starfall"
    assert data["image_url"] == picture["url"]

    italian = await api.get(f"/api/v1/events/{event['slug']}", headers={"Accept-Language": "it-IT,it;q=0.9"})
    assert italian.status_code == 200
    shown = italian.json()["data"]
    assert shown["title"] == "Pioggia di stelle"
    assert shown["location"]["tagline"] == "Dance under the stars"  # no Italian tagline: English
    assert [slot["artist"]["name"] for slot in shown["lineup"]] == ["Luna Vox", "DJ Orbit"]
    image = await api.get(shown["image"]["variants"]["medium"])
    assert image.status_code == 200 and "immutable" in image.headers["cache-control"]
    assert b"TellTaleCamera" not in image.content
    assert max(Image.open(io.BytesIO(image.content)).size) <= 800

    ics = await api.get(f"/api/v1/events/{event['slug']}.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    vevent = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(vevent["uid"]) == f"{event['uid']}@dreamerscave" and str(vevent["status"]) == "CONFIRMED"
    sequence = int(vevent["sequence"])

    cancelled = await api.post(f"/api/v1/admin/events/{event['id']}/cancel", headers=staff)
    assert cancelled.status_code == 200
    gone = await bus.expect("catalog.event.cancelled", id=event["id"])
    assert gone["data"]["sequence"] > data["sequence"]
    # The feed holds the next 180 days by default; a window reaches the event in 2031.
    window = "&from=2031-09-01T00:00:00Z&to=2031-10-01T00:00:00Z"
    feed = await api.get(f"/api/v1/calendar.ics?location={location['slug']}{window}")
    entries = Calendar.from_ical(feed.content).walk("VEVENT")
    assert [str(e["status"]) for e in entries] == ["CANCELLED"]
    assert str(entries[0]["uid"]) == str(vevent["uid"]) and int(entries[0]["sequence"]) > sequence


async def test_reads_are_cached_with_etags_and_writes_show_at_once(api: httpx2.AsyncClient, staff: dict[str, str]):
    """At once on the replica that wrote; the others clear their caches as the write's event
    reaches them (the relay publishes on commit), so a read may wait for that, briefly."""
    created = await api.post(
        "/api/v1/admin/locations",
        headers=staff,
        json={"slug": unique("ember"), "name": "Ember Lounge", "mood_category": "warm_intimate", "capacity": 40},
    )
    location = created.json()["data"]
    url = f"/api/v1/locations/{location['slug']}"
    first = await api.get(url)
    assert first.status_code == 200 and first.headers["cache-control"].startswith("public")
    again = await api.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    await api.put(f"/api/v1/admin/locations/{location['id']}", headers=staff, json={"capacity": 45})
    for _ in range(50):  # 5 s at most
        fresh = await api.get(url, headers={"If-None-Match": first.headers["etag"]})
        if fresh.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert fresh.status_code == 200 and fresh.json()["data"]["capacity"] == 45


async def test_visitors_cannot_write_and_bad_input_has_an_answer(api: httpx2.AsyncClient, staff: dict[str, str]):
    body = {"slug": unique("x"), "name": "X", "mood_category": "hybrid"}
    anonymous = await api.post("/api/v1/admin/locations", json=body)
    assert anonymous.status_code == 401 and anonymous.json()["success"] is False
    email = f"visitor-{uuid.uuid4().hex[:10]}@example.com"
    registered = await api.post(
        "/api/v1/auth/register",
        json={"email": email, "username": f"v_{uuid.uuid4().hex[:10]}", "password": "night owls at the cave"},
    )
    assert registered.status_code == 202, registered.text
    login = await api.post("/api/v1/auth/login", json={"email": email, "password": "night owls at the cave"})
    visitor = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    forbidden = await api.post("/api/v1/admin/locations", headers=visitor, json=body)
    assert forbidden.status_code == 403 and forbidden.json()["success"] is False
    assert (await api.get("/api/v1/admin/events", headers=visitor)).status_code == 403
    invalid = await api.post(
        "/api/v1/admin/locations",
        headers=staff,
        json={**body, "primary_color": "blue", "capacity": 0, "mood_category": "gloomy", "owner_id": 1},
    )
    assert invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"primary_color", "capacity", "mood_category", "owner_id"}
    not_image = await api.post("/api/v1/admin/media", headers=staff, files={"file": ("a.jpg", b"plain text")})
    assert not_image.status_code == 415
    strings = await api.get("/api/v1/i18n/xx")
    assert strings.status_code == 404 and strings.json()["success"] is False
    languages = await api.get("/api/v1/i18n/languages")
    assert [lang["code"] for lang in languages.json()["data"]] == ["en", "it", "fr", "es"]


async def test_a_visitor_searches_in_italian_pages_by_cursor_and_cannot_flood_the_cache(
    api: httpx2.AsyncClient, staff: dict[str, str]
):
    created = await api.post(
        "/api/v1/admin/locations",
        headers=staff,
        json={"slug": unique("grotto"), "name": "Grotto", "mood_category": "hybrid"},
    )
    location = created.json()["data"]
    word = f"lucciola{uuid.uuid4().hex[:6]}"
    slugs = []
    for day in range(1, 6):
        event = await api.post(
            "/api/v1/admin/events",
            headers=staff,
            json={
                "slug": unique("firefly"),
                "title": "Firefly night",
                "start": f"2031-10-0{day}T20:00:00",
                "end": f"2031-10-0{day}T23:00:00",
                "location_id": location["id"],
            },
        )
        event = event.json()["data"]
        await api.put(
            f"/api/v1/admin/events/{event['id']}/translations",
            headers=staff,
            json={"translations": {"it": {"title": f"Notte della {word}"}}},
        )
        assert (await api.post(f"/api/v1/admin/events/{event['id']}/publish", headers=staff)).status_code == 200
        slugs.append(event["slug"])

    found = await api.get("/api/v1/events", params={"q": word, "lang": "it", "per_page": 2})
    assert found.status_code == 200
    body = found.json()
    assert [e["slug"] for e in body["data"]] == slugs[:2]
    assert body["data"][0]["title"] == f"Notte della {word}"
    seen = [e["slug"] for e in body["data"]]
    cursor = body["meta"]["pagination"]["next_cursor"]
    while cursor:
        page = (
            await api.get("/api/v1/events", params={"q": word, "lang": "it", "per_page": 2, "cursor": cursor})
        ).json()
        seen += [e["slug"] for e in page["data"]]
        cursor = page["meta"]["pagination"]["next_cursor"]
    assert seen == slugs
    assert (await api.get("/api/v1/events", params={"q": word, "lang": "en"})).json()["data"] == []
    short = await api.get("/api/v1/events", params={"q": "lu"})
    assert short.status_code == 422 and "q" in short.json()["errors"]
    bad = await api.get("/api/v1/events", params={"cursor": "not-ours"})
    assert bad.status_code == 422 and "cursor" in bad.json()["errors"]

    # Noise in the query string is ignored: one answer, one ETag, a 304 for the next poll.
    url = f"/api/v1/events?location={location['slug']}"
    first = await api.get(url)
    for n in range(20):
        noisy = await api.get(
            f"{url}&utm_source=x{n}&_={uuid.uuid4().hex}", headers={"If-None-Match": first.headers["etag"]}
        )
        assert noisy.status_code == 304
