"""Events: drafts, publishing rules, lineups, filters, sequence, and what goes on the bus."""

from __future__ import annotations

import pytest
from catalog_testkit import make_artist, make_event, make_location, unique

from tdc_catalog.queries import events as event_queries


async def test_draft_is_private_until_published(catalog):
    location = await make_location(catalog)
    draft = await make_event(catalog, location["id"], publish=False)
    assert draft["status"] == "draft" and draft["sequence"] == 0
    assert (await catalog.client.get(f"/api/v1/events/{draft['slug']}")).status_code == 404
    assert not [e for e in await catalog.outbox("catalog.event.published") if e["id"] == draft["id"]]

    response = await catalog.client.post(f"/api/v1/admin/events/{draft['id']}/publish", headers=catalog.staff)
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "published"
    public = (await catalog.client.get(f"/api/v1/events/{draft['slug']}")).json()["data"]
    assert public["status"] == "published"
    assert public["start_utc"] == "2031-06-02T03:00:00Z" and public["end_utc"] == "2031-06-02T06:00:00Z"
    assert public["timezone"] == "America/Los_Angeles"
    assert public["start_local"] == "2031-06-01T20:00:00-07:00"
    assert public["location"]["slug"] == location["slug"] and public["location"]["theme"]

    published = [e for e in await catalog.outbox("catalog.event.published") if e["id"] == draft["id"]]
    assert len(published) == 1
    payload = published[0]
    assert payload["slug"] == draft["slug"] and payload["uid"] == draft["uid"]
    assert payload["start_utc"] == "2031-06-02T03:00:00Z" and payload["timezone"] == "America/Los_Angeles"
    assert payload["location"] == {"id": location["id"], "slug": location["slug"], "name": location["name"]}
    assert payload["translations"]["fr"]["title"] == "Test Night"
    assert payload["sequence"] == 1


async def test_publishing_needs_title_times_and_location(catalog):
    response = await catalog.client.post("/api/v1/admin/events", json={"slug": unique("bare")}, headers=catalog.staff)
    assert response.status_code == 201
    event = response.json()["data"]
    assert event["timezone"] == "America/Los_Angeles"
    response = await catalog.client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=catalog.staff)
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "title": ["required to publish"],
        "start": ["required to publish"],
        "end": ["required to publish"],
        "location_id": ["required to publish"],
    }


async def test_status_moves_draft_published_cancelled_only(catalog):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"])
    again = await catalog.client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=catalog.staff)
    assert again.status_code == 409
    assert again.json() == {"success": False, "error": "A published event cannot be published"}
    cancel = await catalog.client.post(f"/api/v1/admin/events/{event['id']}/cancel", headers=catalog.staff)
    assert cancel.status_code == 200 and cancel.json()["data"]["status"] == "cancelled"
    assert (
        await catalog.client.post(f"/api/v1/admin/events/{event['id']}/cancel", headers=catalog.staff)
    ).status_code == 409
    assert (
        await catalog.client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=catalog.staff)
    ).status_code == 409
    public = (await catalog.client.get(f"/api/v1/events/{event['slug']}")).json()["data"]
    assert public["status"] == "cancelled"
    cancelled = [e for e in await catalog.outbox("catalog.event.cancelled") if e["id"] == event["id"]]
    assert cancelled and cancelled[0]["status"] == "cancelled"
    draft = await make_event(catalog, location["id"], publish=False)
    assert (
        await catalog.client.post(f"/api/v1/admin/events/{draft['id']}/cancel", headers=catalog.staff)
    ).status_code == 409


NOT_ISO = "Value error, must be an ISO 8601 date and time, such as 2031-09-05T20:00:00"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"end": "2031-06-01T19:00:00-07:00"}, {"end": ["must be after start"]}),
        ({"timezone": "Mars/Olympus"}, None),
        ({"timezone": "America"}, None),  # folders of the tz database are no zones
        ({"timezone": "Europe"}, None),
        ({"timezone": "Etc"}, None),
        ({"location_id": 99999999}, {"location_id": ["no such location 99999999"]}),
        ({"image_media_id": 99999999}, {"image_media_id": ["no such media 99999999"]}),
        ({"status": "published"}, {"status": ["unknown field"]}),
        ({"sequence": 50}, {"sequence": ["unknown field"]}),
        ({"start": "tomorrow"}, None),
        ({"start": 1937000000}, {"start": [NOT_ISO]}),  # not Unix seconds
        ({"end": "1937000000"}, {"end": [NOT_ISO]}),
        ({"start": "0001-01-01T00:00:00+14:00"}, {"start": ["Value error, must be between the years 2000 and 2100"]}),
        ({"end": "9999-12-31T23:59:59-12:00"}, {"end": ["Value error, must be between the years 2000 and 2100"]}),
    ],
)
async def test_bad_event_fields(catalog, body, errors):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"], publish=False)
    response = await catalog.client.put(f"/api/v1/admin/events/{event['id']}", json=body, headers=catalog.staff)
    assert response.status_code == 422
    if errors is not None:
        assert response.json()["errors"] == errors
    else:
        assert set(response.json()["errors"]) == set(body)


async def test_a_public_event_keeps_what_publishing_needed(catalog):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"])
    response = await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}", json={"title": None}, headers=catalog.staff
    )
    assert response.status_code == 422 and response.json()["errors"] == {"title": ["required to publish"]}


async def test_every_change_grows_the_sequence_and_keeps_the_uid(catalog):
    location = await make_location(catalog)
    artist = await make_artist(catalog)
    event = await make_event(catalog, location["id"])
    uid, sequence = event["uid"], event["sequence"]
    moved = await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}",
        json={"start": "2031-06-08T20:00:00", "end": "2031-06-08T23:30:00"},
        headers=catalog.staff,
    )
    data = moved.json()["data"]
    assert data["uid"] == uid and data["sequence"] == sequence + 1
    # Without an offset the time is the event's own wall-clock time (Second Life time).
    assert data["start_utc"] == "2031-06-09T03:00:00Z"
    texts = await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}/translations",
        json={"translations": {"it": {"title": "Notte di prova"}}},
        headers=catalog.staff,
    )
    assert texts.json()["data"]["sequence"] == sequence + 2
    lineup = await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}/lineup",
        json={"lineup": [{"artist_id": artist["id"]}]},
        headers=catalog.staff,
    )
    assert lineup.json()["data"]["sequence"] == sequence + 3
    updates = [e for e in await catalog.outbox("catalog.event.updated") if e["id"] == event["id"]]
    assert [u["sequence"] for u in updates] == [sequence + 1, sequence + 2, sequence + 3]
    assert updates[-1]["artists"][0]["slug"] == artist["slug"]
    assert updates[-1]["translations"]["it"]["title"] == "Notte di prova"
    assert updates[-1]["translations"]["es"]["title"] == "Test Night"


async def test_lineup_in_order_with_set_times(catalog):
    location = await make_location(catalog)
    first = await make_artist(catalog, name="Opener")
    second = await make_artist(catalog, name="Headliner")
    event = await make_event(catalog, location["id"])
    body = {
        "lineup": [
            {
                "artist_id": second["id"],
                "set_start": "2031-06-01T21:00:00-07:00",
                "set_end": "2031-06-01T23:00:00-07:00",
            },
            {"artist_id": first["id"], "set_start": "2031-06-01T20:00:00", "set_end": "2031-06-01T21:00:00"},
        ]
    }
    response = await catalog.client.put(f"/api/v1/admin/events/{event['id']}/lineup", json=body, headers=catalog.staff)
    assert response.status_code == 200
    detail = (await catalog.client.get(f"/api/v1/events/{event['slug']}")).json()["data"]
    assert [slot["artist"]["name"] for slot in detail["lineup"]] == ["Headliner", "Opener"]
    assert [slot["position"] for slot in detail["lineup"]] == [1, 2]
    assert detail["lineup"][0]["set_start_utc"] == "2031-06-02T04:00:00Z"
    assert detail["lineup"][1]["set_start_utc"] == "2031-06-02T03:00:00Z"

    by_artist = (await catalog.client.get(f"/api/v1/artists/{first['slug']}/events")).json()
    assert [e["slug"] for e in by_artist["data"]] == [event["slug"]]


async def test_lineups_stay_whole_when_the_server_cuts_the_aggregate(catalog):
    # MariaDB stops JSON_ARRAYAGG at group_concat_max_len; the lineups are then read row by row.
    location = await make_location(catalog)
    artists = [await make_artist(catalog, name=f"Act {i}") for i in range(3)]
    events = [await make_event(catalog, location["id"]) for _ in range(2)]
    for event, acts in zip(events, (artists, artists[:2]), strict=True):
        body = {"lineup": [{"artist_id": a["id"]} for a in acts]}
        response = await catalog.client.put(
            f"/api/v1/admin/events/{event['id']}/lineup", json=body, headers=catalog.staff
        )
        assert response.status_code == 200
    ids = [e["id"] for e in events]
    async with catalog.db.session() as s:
        whole = await event_queries.lineups(s, ids)
        await s.execute("SET SESSION group_concat_max_len = 200")
        try:
            cut = await event_queries.lineups(s, ids)
        finally:
            await s.execute("SET SESSION group_concat_max_len = DEFAULT")
    assert cut == whole
    assert [slot["artist"]["name"] for slot in whole[ids[0]]] == ["Act 0", "Act 1", "Act 2"]
    assert [slot["position"] for slot in whole[ids[1]]] == [1, 2]


async def test_bad_lineups(catalog):
    location = await make_location(catalog)
    artist = await make_artist(catalog)
    event = await make_event(catalog, location["id"])
    url = f"/api/v1/admin/events/{event['id']}/lineup"
    twice = {"lineup": [{"artist_id": artist["id"]}, {"artist_id": artist["id"]}]}
    response = await catalog.client.put(url, json=twice, headers=catalog.staff)
    assert response.status_code == 422 and response.json()["errors"] == {"lineup.1.artist_id": ["listed twice"]}
    unknown = {"lineup": [{"artist_id": 99999999}]}
    response = await catalog.client.put(url, json=unknown, headers=catalog.staff)
    assert response.json()["errors"] == {"lineup.0.artist_id": ["no such artist 99999999"]}
    backwards = {
        "lineup": [{"artist_id": artist["id"], "set_start": "2031-06-01T22:00:00", "set_end": "2031-06-01T21:00:00"}]
    }
    response = await catalog.client.put(url, json=backwards, headers=catalog.staff)
    assert response.json()["errors"] == {"lineup.0.set_end": ["must be after set_start"]}
    assert (await catalog.client.put(url, json={"lineup": "x"}, headers=catalog.staff)).status_code == 422


async def test_list_filters_and_pagination(catalog):
    location = await make_location(catalog)
    other = await make_location(catalog)
    artist = await make_artist(catalog)
    word = unique("zebra")
    early = await make_event(
        catalog, location["id"], title=f"{word} early", start="2032-01-01T20:00:00Z", end="2032-01-01T23:00:00Z"
    )
    late = await make_event(
        catalog,
        location["id"],
        title=f"{word} late",
        start="2032-02-01T20:00:00Z",
        end="2032-02-01T23:00:00Z",
        is_featured=True,
    )
    elsewhere = await make_event(catalog, other["id"], title=f"{word} elsewhere")
    past = await make_event(
        catalog, location["id"], title=f"{word} past", start="2020-01-01T20:00:00Z", end="2020-01-01T23:00:00Z"
    )
    await catalog.client.put(
        f"/api/v1/admin/events/{late['id']}/lineup",
        json={"lineup": [{"artist_id": artist["id"]}]},
        headers=catalog.staff,
    )

    async def slugs(query: str) -> list[str]:
        response = await catalog.client.get(f"/api/v1/events?{query}")
        assert response.status_code == 200, response.text
        return [e["slug"] for e in response.json()["data"]]

    assert await slugs(f"q={word}") == [elsewhere["slug"], early["slug"], late["slug"]]  # upcoming, by start
    assert await slugs(f"q={word}&location={location['slug']}") == [early["slug"], late["slug"]]
    assert await slugs(f"q={word}&artist={artist['slug']}") == [late["slug"]]
    assert await slugs(f"q={word}&featured=true") == [late["slug"]]
    assert await slugs(f"q={word}&from=2032-01-15T00:00:00Z") == [late["slug"]]
    assert await slugs(f"q={word}&from=2019-01-01T00:00:00Z&to=2021-01-01T00:00:00Z") == [past["slug"]]
    assert await slugs(f"location={location['slug']}") == [early["slug"], late["slug"]]
    page = (await catalog.client.get(f"/api/v1/events?q={word}&per_page=2&page=2")).json()
    assert [e["slug"] for e in page["data"]] == [late["slug"]]
    assert page["meta"]["pagination"] == {
        "page": 2,
        "per_page": 2,
        "cursor": None,
        "total": 3,
        "total_exact": True,
        "pages": 2,
        "has_more": False,
        "next_cursor": None,
    }
    beyond = (await catalog.client.get(f"/api/v1/events?q={word}&per_page=2&page=9")).json()
    assert beyond["data"] == [] and beyond["meta"]["pagination"]["total"] == 3
    at_location = (await catalog.client.get(f"/api/v1/locations/{location['slug']}/events")).json()
    assert [e["slug"] for e in at_location["data"]] == [early["slug"], late["slug"]]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("from=yesterday", 422, "from"),
        ("to=0.5", 422, "to"),  # not Unix seconds
        ("from=1937000000", 422, "from"),
        ("from=2032-02-01T00:00:00Z&to=2032-01-01T00:00:00Z", 422, "to"),
        ("per_page=500", 422, "per_page"),
        ("page=0", 422, "page"),
        ("featured=maybe", 422, "featured"),
        ("from=0001-01-01T00:00:00%2B14:00", 422, "from"),
        ("to=9999-12-31T23:00:00-12:00", 422, "to"),
        ("location=no-such-place", 404, None),
        ("artist=no-such-artist", 404, None),
    ],
)
async def test_bad_list_queries(catalog, query, status, field):
    response = await catalog.client.get(f"/api/v1/events?{query}")
    assert response.status_code == status
    assert response.json()["success"] is False
    if field:
        assert field in response.json()["errors"]


async def test_translated_lists(catalog):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"], subtitle="English subtitle")
    await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}/translations",
        json={"translations": {"it": {"title": "Serata"}}},
        headers=catalog.staff,
    )
    items = (await catalog.client.get(f"/api/v1/events?lang=it&location={location['slug']}")).json()["data"]
    assert items[0]["title"] == "Serata" and items[0]["subtitle"] == "English subtitle"


async def test_delete_tells_the_bus_only_for_public_events(catalog):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"])
    draft = await make_event(catalog, location["id"], publish=False)
    for target in (event, draft):
        response = await catalog.client.delete(f"/api/v1/admin/events/{target['id']}", headers=catalog.staff)
        assert response.status_code == 204
    deleted = {e["id"]: e for e in await catalog.outbox("catalog.event.deleted")}
    assert event["id"] in deleted and draft["id"] not in deleted
    assert deleted[event["id"]]["uid"] == event["uid"]
    assert (await catalog.client.get(f"/api/v1/events/{event['slug']}")).status_code == 404
    # A location with events cannot be deleted; without them it can.
    busy = await make_event(catalog, location["id"], publish=False)
    conflict = await catalog.client.delete(f"/api/v1/admin/locations/{location['id']}", headers=catalog.staff)
    assert conflict.status_code == 409
    await catalog.client.delete(f"/api/v1/admin/events/{busy['id']}", headers=catalog.staff)
    assert (
        await catalog.client.delete(f"/api/v1/admin/locations/{location['id']}", headers=catalog.staff)
    ).status_code == 204


async def test_admin_list_shows_drafts(catalog):
    location = await make_location(catalog)
    draft = await make_event(catalog, location["id"], publish=False)
    response = await catalog.client.get("/api/v1/admin/events?status=draft&per_page=100", headers=catalog.staff)
    assert draft["id"] in [e["id"] for e in response.json()["data"]]
    assert (await catalog.client.get("/api/v1/admin/events", headers=catalog.user)).status_code == 403
    assert (await catalog.client.get("/api/v1/admin/events?status=gone", headers=catalog.staff)).status_code == 422
