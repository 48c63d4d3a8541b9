"""Event lists at scale: keyset cursors, capped totals, full-text search, bounded feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from catalog_testkit import make_artist, make_event, make_location, unique
from icalendar import Calendar

from tdc_catalog.queries import events as event_queries
from tdc_shared.pagination import capped_count, encode_cursor


def at(days: float, hours: float = 3) -> dict[str, str]:
    """Start and end of an event `days` from now (negative: in the past)."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


async def pages(catalog, query: str) -> dict:
    response = await catalog.client.get(f"/api/v1/events?{query}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_cursor_pages_stay_in_order_while_events_are_inserted(catalog):
    location = await make_location(catalog)
    slug = location["slug"]
    # Two events share a start: the id breaks the tie, and a page boundary falls between them.
    starts = [10, 11, 12, 12, 13, 14, 15]
    events = [await make_event(catalog, location["id"], **at(days)) for days in starts]
    expected = [e["slug"] for e in events]

    first = await pages(catalog, f"location={slug}&per_page=3")
    meta = first["meta"]["pagination"]
    assert [e["slug"] for e in first["data"]] == expected[:3]
    assert meta["total"] == 7 and meta["total_exact"] is True and meta["pages"] == 3
    assert meta["has_more"] is True and meta["next_cursor"] and meta["page"] == 1

    # Between page reads: one event before the cursor, one among those still to come.
    await make_event(catalog, location["id"], **at(9))
    middle = await make_event(catalog, location["id"], **at(13.5))
    expected_rest = [*expected[3:5], middle["slug"], *expected[5:]]

    second = await pages(catalog, f"location={slug}&per_page=3&cursor={meta['next_cursor']}")
    meta = second["meta"]["pagination"]
    assert [e["slug"] for e in second["data"]] == expected_rest[:3]
    assert meta["page"] is None and meta["cursor"] and meta["total"] == 9 and meta["has_more"] is True
    third = await pages(catalog, f"location={slug}&per_page=3&cursor={meta['next_cursor']}")
    meta = third["meta"]["pagination"]
    assert [e["slug"] for e in third["data"]] == expected_rest[3:]
    assert meta["has_more"] is False and meta["next_cursor"] is None

    seen = [e["slug"] for page in (first, second, third) for e in page["data"]]
    assert len(seen) == len(set(seen))
    starts_seen = [e["start_utc"] for page in (first, second, third) for e in page["data"]]
    assert starts_seen == sorted(starts_seen)

    # Offset pages count the rows inserted since, and give a cursor to switch to as well.
    by_page = await pages(catalog, f"location={slug}&per_page=4&page=2")
    assert by_page["meta"]["pagination"]["total"] == 9
    assert by_page["meta"]["pagination"]["next_cursor"]
    everything = await pages(catalog, f"location={slug}&per_page=100")
    assert [e["slug"] for e in by_page["data"]] == [e["slug"] for e in everything["data"]][4:8]


async def test_an_artists_list_follows_lineups_and_reschedules(catalog):
    location = await make_location(catalog)
    artist = await make_artist(catalog)
    later = await make_event(catalog, location["id"], **at(30))
    sooner = await make_event(catalog, location["id"], **at(20))
    for event in (later, sooner):
        response = await catalog.client.put(
            f"/api/v1/admin/events/{event['id']}/lineup",
            json={"lineup": [{"artist_id": artist["id"]}]},
            headers=catalog.staff,
        )
        assert response.status_code == 200
    listed = await pages(catalog, f"artist={artist['slug']}")
    assert [e["slug"] for e in listed["data"]] == [sooner["slug"], later["slug"]]
    # Moving an event moves its place in the artist's list (the slot keeps a copy of the start).
    await catalog.client.put(f"/api/v1/admin/events/{sooner['id']}", json=at(40), headers=catalog.staff)
    listed = await pages(catalog, f"artist={artist['slug']}&per_page=1")
    assert [e["slug"] for e in listed["data"]] == [later["slug"]]
    cursor = listed["meta"]["pagination"]["next_cursor"]
    rest = await pages(catalog, f"artist={artist['slug']}&per_page=1&cursor={cursor}")
    assert [e["slug"] for e in rest["data"]] == [sooner["slug"]]
    # Cancelled stays listed; a draft never is.
    draft = await make_event(catalog, location["id"], publish=False, **at(25))
    await catalog.client.put(
        f"/api/v1/admin/events/{draft['id']}/lineup",
        json={"lineup": [{"artist_id": artist["id"]}]},
        headers=catalog.staff,
    )
    await catalog.client.post(f"/api/v1/admin/events/{later['id']}/cancel", headers=catalog.staff)
    listed = await pages(catalog, f"artist={artist['slug']}")
    assert [(e["slug"], e["status"]) for e in listed["data"]] == [
        (later["slug"], "cancelled"),
        (sooner["slug"], "published"),
    ]


async def test_totals_are_capped(catalog):
    location = await make_location(catalog)
    for days in (10, 11, 12):
        await make_event(catalog, location["id"], **at(days))
    select = "SELECT 1 FROM events e WHERE e.location_id = %s AND e.is_public = 1"
    async with catalog.db.session() as s:
        assert await capped_count(s, select, [location["id"]], cap=2) == (2, False)
        assert await capped_count(s, select, [location["id"]], cap=3) == (3, True)
        assert await capped_count(s, select, [location["id"]], cap=50) == (3, True)


async def test_bad_cursors_and_deep_offsets_are_refused(catalog):
    good = (await pages(catalog, "per_page=1"))["meta"]["pagination"]["next_cursor"]
    body, mac = good.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    bad = {
        "not-a-cursor": "is not a cursor this list gave out",
        "a.b": "is not a cursor this list gave out",
        tampered: "is not a cursor this list gave out",
        good[:-3]: "is not a cursor this list gave out",
        encode_cursor("users", ["2031-01-01T00:00:00", 1]): "belongs to another list",
        encode_cursor("events", [1]): "belongs to another list",
        encode_cursor("events", ["tomorrow", 1]): "is not a cursor this list gave out",
        encode_cursor("events", ["2031-01-01T00:00:00", "1"]): "is not a cursor this list gave out",
        encode_cursor("events", ["2031-01-01T00:00:00", True]): "is not a cursor this list gave out",
    }
    for cursor, reason in bad.items():
        response = await catalog.client.get("/api/v1/events", params={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert response.json()["errors"] == {"cursor": [reason]}, cursor
    both = await catalog.client.get("/api/v1/events", params={"cursor": good, "page": 2})
    assert both.status_code == 422 and "cursor" in both.json()["errors"]
    too_long = await catalog.client.get("/api/v1/events", params={"cursor": "x" * 500})
    assert too_long.status_code == 422 and "cursor" in too_long.json()["errors"]
    deep = await catalog.client.get("/api/v1/events?page=600&per_page=20")
    assert deep.status_code == 422 and "next_cursor" in deep.json()["errors"]["page"][0]
    for route in ("/api/v1/locations/x/events", "/api/v1/artists/x/events"):
        assert (await catalog.client.get(route, params={"cursor": "nope"})).status_code in (404, 422)


async def test_search_in_the_callers_language_with_english_fallback(catalog):
    location = await make_location(catalog)
    word = unique("stellato").replace("-", "")
    english = unique("starry").replace("-", "")
    translated = await make_event(catalog, location["id"], title=f"{english} night", **at(10))
    await catalog.client.put(
        f"/api/v1/admin/events/{translated['id']}/translations",
        json={"translations": {"it": {"title": f"Notte {word}"}}},
        headers=catalog.staff,
    )
    untranslated = await make_event(
        catalog, location["id"], title=f"{english} dawn", description="Only in English", **at(11)
    )

    async def found(query: str) -> list[str]:
        return [e["slug"] for e in (await pages(catalog, query))["data"]]

    # The Italian word finds the Italian text; an English reader does not see that text.
    assert await found(f"q={word}&lang=it") == [translated["slug"]]
    assert await found(f"q={word}&lang=en") == []
    # Where Italian is missing the English text stands in, and is found in Italian too.
    assert await found(f"q={english}&lang=it") == [untranslated["slug"]]
    assert await found(f"q={english}") == [translated["slug"], untranslated["slug"]]
    assert await found(f"q={english}+dawn&lang=fr") == [untranslated["slug"]]
    # Artist names are searchable; the index follows lineup and name changes.
    artist = await make_artist(catalog, name=unique("Moonraker").replace("-", ""))
    await catalog.client.put(
        f"/api/v1/admin/events/{untranslated['id']}/lineup",
        json={"lineup": [{"artist_id": artist["id"]}]},
        headers=catalog.staff,
    )
    assert await found(f"q={artist['name']}&lang=es") == [untranslated["slug"]]
    renamed = unique("Sunchaser").replace("-", "")
    await catalog.client.put(f"/api/v1/admin/artists/{artist['id']}", json={"name": renamed}, headers=catalog.staff)
    assert await found(f"q={renamed}") == [untranslated["slug"]]
    assert await found(f"q={artist['name']}") == []
    # With other filters.
    assert await found(f"q={english}&artist={artist['slug']}") == [untranslated["slug"]]
    assert await found(f"q={english}&location={location['slug']}&featured=false") == [
        translated["slug"],
        untranslated["slug"],
    ]


@pytest.mark.parametrize("q", ["a", "ab", " z ", "a b", "!!!", "a-b"])
async def test_too_short_searches_are_refused(catalog, q):
    response = await catalog.client.get("/api/v1/events", params={"q": q})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "Search words need at least 3 characters"
    assert "q" in body["errors"]


def feed_uids(body: bytes) -> list[str]:
    return [str(e["uid"]).removesuffix("@dreamerscave") for e in Calendar.from_ical(body).walk("VEVENT")]


async def test_the_feed_window_and_cap(catalog, monkeypatch):
    location = await make_location(catalog)
    events = {
        name: await make_event(catalog, location["id"], **at(days))
        for name, days in {
            "long_ago": -40,
            "last_week": -7,
            "yesterday": -1,
            "soon": 3,
            "later": 100,
            "far": 200,
        }.items()
    }
    feed = f"/api/v1/calendar.ics?location={location['slug']}"
    response = await catalog.client.get(feed)
    assert response.status_code == 200
    uid = {e["uid"]: name for name, e in events.items()}
    assert [uid[u] for u in feed_uids(response.content)] == ["last_week", "yesterday", "soon", "later"]

    wide = await catalog.client.get(
        feed + "&from=" + at(-60)["start"].replace("+", "%2B") + "&to=" + at(300)["start"].replace("+", "%2B")
    )
    assert [uid[u] for u in feed_uids(wide.content)] == list(events)
    only_from = await catalog.client.get(feed + "&from=" + at(150)["start"].replace("+", "%2B"))
    assert [uid[u] for u in feed_uids(only_from.content)] == ["far"]  # a window of 180 days from there

    for query, field in (
        ("&from=2030-01-01T00:00:00Z&to=2031-06-01T00:00:00Z", "to"),  # wider than 400 days
        ("&from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", "to"),
        ("&from=yesterday", "from"),
        ("&to=1800-01-01T00:00:00Z", "to"),
    ):
        refused = await catalog.client.get(feed + query)
        assert refused.status_code == 422 and field in refused.json()["errors"], query

    # At most CALENDAR_MAX_EVENTS: what is coming first, then the most recent past ones,
    # at most CALENDAR_MAX_PAST of them.
    async def capped(max_events: int, max_past: int, query: str = "") -> list[str]:
        monkeypatch.setattr(event_queries, "CALENDAR_MAX_EVENTS", max_events)
        monkeypatch.setattr(event_queries, "CALENDAR_MAX_PAST", max_past)
        catalog.app.state.cache.clear()
        return [uid[u] for u in feed_uids((await catalog.client.get(feed + query)).content)]

    assert await capped(2, 5) == ["soon", "later"]
    assert await capped(3, 5) == ["yesterday", "soon", "later"]
    assert await capped(4, 1) == ["yesterday", "soon", "later"]
    assert await capped(9, 5) == ["last_week", "yesterday", "soon", "later"]
    since = "&from=" + at(-60)["start"].replace("+", "%2B")
    assert await capped(3, 1, since) == ["long_ago", "last_week", "yesterday"]  # a window: by start


async def test_feeds_answer_conditional_requests(catalog):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"], **at(5))
    feed = f"/api/v1/calendar.ics?location={location['slug']}"
    first = await catalog.client.get(feed)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert (await catalog.client.get(feed, headers={"If-None-Match": etag})).status_code == 304
    assert (await catalog.client.get(feed, headers={"If-Modified-Since": last_modified})).status_code == 304
    # If-None-Match decides when both come (RFC 9110): a stale ETag is a 200 whatever the date.
    stale = await catalog.client.get(feed, headers={"If-None-Match": '"old"', "If-Modified-Since": last_modified})
    assert stale.status_code == 200
    # The route answers conditionals itself on a miss (or with the cache off).
    catalog.app.state.cache.clear()
    miss = await catalog.client.get(feed, headers={"If-Modified-Since": last_modified})
    assert miss.status_code == 304 and miss.headers["etag"] == etag
    catalog.app.state.cache.clear()
    assert (await catalog.client.get(feed, headers={"If-None-Match": etag})).status_code == 304
    older = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (await catalog.client.get(feed, headers={"If-Modified-Since": older})).status_code == 200
    # A change gives a new ETag and a later Last-Modified.
    await catalog.client.put(f"/api/v1/admin/events/{event['id']}", json={"title": "Renamed"}, headers=catalog.staff)
    changed = await catalog.client.get(feed, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    single = await catalog.client.get(f"/api/v1/events/{event['slug']}.ics")
    assert single.headers["last-modified"] and single.headers["etag"]


async def test_events_longer_than_a_week_are_refused(catalog):
    location = await make_location(catalog)
    response = await catalog.client.post(
        "/api/v1/admin/events",
        json={"slug": unique("festival"), "location_id": location["id"], **at(10, hours=24 * 8)},
        headers=catalog.staff,
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"end": ["an event lasts at most 7 days"]}


async def walk(catalog, query: dict, per_page: int) -> list[tuple[int, str | None]]:
    """Every (id, start_utc) of a staff list, following next_cursor from its first page."""
    rows: list[tuple[int, str | None]] = []
    params = {**query, "per_page": per_page}
    while True:
        response = await catalog.client.get("/api/v1/admin/events", params=params, headers=catalog.staff)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += [(e["id"], e["start_utc"]) for e in body["data"]]
        cursor = body["meta"]["pagination"]["next_cursor"]
        if cursor is None:
            assert body["meta"]["pagination"]["has_more"] is False
            return rows
        params = {**query, "per_page": per_page, "cursor": cursor}


async def test_the_staff_list_pages_by_cursor_with_drafts_without_a_start_last(catalog):
    location = await make_location(catalog)
    soon, later = at(30), at(60)
    made = {
        "later": await make_event(catalog, location["id"], publish=False, **later),
        "soon": await make_event(catalog, location["id"], publish=False, **soon),
        "soon-too": await make_event(catalog, location["id"], publish=False, **soon),  # the same start: by id
    }
    for name in ("no-start", "no-start-too"):
        response = await catalog.client.post(
            "/api/v1/admin/events", json={"slug": unique(name), "title": name}, headers=catalog.staff
        )
        assert response.status_code == 201, response.text
        made[name] = response.json()["data"]
    drafts = {"status": "draft"}

    by_cursor = await walk(catalog, drafts, per_page=3)
    by_offset: list[tuple[int, str | None]] = []
    for page in range(1, 1000):
        params = {**drafts, "per_page": 100, "page": page}
        body = (await catalog.client.get("/api/v1/admin/events", params=params, headers=catalog.staff)).json()
        by_offset += [(e["id"], e["start_utc"]) for e in body["data"]]
        if not body["meta"]["pagination"]["has_more"]:
            break
    assert by_cursor == by_offset and len({i for i, _ in by_cursor}) == len(by_cursor)
    # Newest start first, ties by id, newest first; drafts without a start after all the others.
    with_start = [(start, i) for i, start in by_cursor if start is not None]
    assert with_start == sorted(with_start, reverse=True)
    without = [i for i, start in by_cursor if start is None]
    assert [i for i, _ in by_cursor[len(with_start) :]] == without == sorted(without, reverse=True)
    ids = {name: e["id"] for name, e in made.items()}
    ours = [i for i, _ in by_cursor if i in ids.values()]
    assert ours == [ids["later"], ids["soon-too"], ids["soon"], ids["no-start-too"], ids["no-start"]]


async def test_the_staff_list_refuses_bad_cursors(catalog):
    location = await make_location(catalog)
    for _ in range(2):
        await make_event(catalog, location["id"], publish=False)
    params = {"status": "draft", "per_page": 1}
    first = await catalog.client.get("/api/v1/admin/events", params=params, headers=catalog.staff)
    cursor = first.json()["meta"]["pagination"]["next_cursor"]
    assert cursor and first.json()["meta"]["pagination"]["total"] >= 2
    following = {**params, "cursor": cursor}
    follow = await catalog.client.get("/api/v1/admin/events", params=following, headers=catalog.staff)
    assert follow.status_code == 200 and follow.json()["meta"]["pagination"]["page"] is None
    cases = {
        "another status's list": {"status": "published", "cursor": cursor},
        "edited": {"status": "draft", "cursor": cursor[:-2] + ("xx" if not cursor.endswith("xx") else "yy")},
        "with a page": {"status": "draft", "cursor": cursor, "page": 2},
        "not a cursor": {"status": "draft", "cursor": "abc"},
    }
    for what, query in cases.items():
        response = await catalog.client.get("/api/v1/admin/events", params=query, headers=catalog.staff)
        assert response.status_code == 422, what
        assert "cursor" in response.json()["errors"], what
    deep = await catalog.client.get("/api/v1/admin/events", params={"page": 1000}, headers=catalog.staff)
    assert deep.status_code == 422 and "page" in deep.json()["errors"]  # past MAX_OFFSET rows: follow the cursor
