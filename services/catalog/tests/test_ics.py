"""ICS feeds, checked by parsing them back with icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog_testkit import make_event, make_location
from icalendar import Calendar


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


async def test_single_event_ics(catalog):
    location = await make_location(catalog, name="Ember Lounge")
    event = await make_event(catalog, location["id"], title="Fireside", description="Acoustic night")
    response = await catalog.client.get(f"/api/v1/events/{event['slug']}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    cal = parse(response.content)
    assert str(cal["version"]) == "2.0" and "Dreamer" in str(cal["prodid"])
    (vevent,) = cal.walk("VEVENT")
    (vtimezone,) = cal.walk("VTIMEZONE")
    assert str(vtimezone["tzid"]) == "America/Los_Angeles"
    assert str(vevent["uid"]) == f"{event['uid']}@dreamerscave"
    assert str(vevent["summary"]) == "Fireside" and "Acoustic night" in str(vevent["description"])
    assert str(vevent["location"]) == "Ember Lounge"
    assert str(vevent["status"]) == "CONFIRMED"
    start = vevent["dtstart"]
    assert start.params["TZID"] == "America/Los_Angeles"
    assert start.dt.astimezone(UTC) == datetime(2031, 6, 2, 3, 0, tzinfo=UTC)
    assert vevent["dtend"].dt.astimezone(UTC) == datetime(2031, 6, 2, 6, 0, tzinfo=UTC)
    assert vevent["dtstamp"].dt.tzinfo is not None and vevent["dtstamp"].dt.utcoffset().total_seconds() == 0
    assert b"DTSTAMP:" in response.content and b"Z\r\n" in response.content
    assert int(vevent["sequence"]) == event["sequence"]


async def test_reschedule_keeps_uid_and_grows_sequence_then_cancel(catalog):
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"])
    url = f"/api/v1/events/{event['slug']}.ics"
    before = parse((await catalog.client.get(url)).content).walk("VEVENT")[0]
    await catalog.client.put(
        f"/api/v1/admin/events/{event['id']}",
        json={"start": "2031-07-01T20:00:00-07:00", "end": "2031-07-01T22:00:00-07:00"},
        headers=catalog.staff,
    )
    after = parse((await catalog.client.get(url)).content).walk("VEVENT")[0]
    assert str(after["uid"]) == str(before["uid"])
    assert int(after["sequence"]) > int(before["sequence"])
    assert after["dtstart"].dt.astimezone(UTC) == datetime(2031, 7, 2, 3, 0, tzinfo=UTC)
    await catalog.client.post(f"/api/v1/admin/events/{event['id']}/cancel", headers=catalog.staff)
    cancelled = parse((await catalog.client.get(url)).content).walk("VEVENT")[0]
    assert str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) > int(after["sequence"])


def soon(days: float, hours: float = 3) -> dict[str, str]:
    """Start and end of an event `days` from now (inside the feed's 180-day horizon)."""
    start = datetime.now(UTC) + timedelta(days=days)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


async def test_calendar_feed_filters_and_language(catalog):
    location = await make_location(catalog)
    other = await make_location(catalog)
    here = await make_event(catalog, location["id"], title="Here", **soon(10))
    await make_event(catalog, other["id"], title="There", **soon(10))
    await catalog.client.put(
        f"/api/v1/admin/events/{here['id']}/translations",
        json={"translations": {"it": {"title": "Qui"}}},
        headers=catalog.staff,
    )
    response = await catalog.client.get(f"/api/v1/calendar.ics?location={location['slug']}&lang=it")
    assert response.status_code == 200
    cal = parse(response.content)
    events = cal.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["Qui"]
    assert len(cal.walk("VTIMEZONE")) == 1
    full = parse((await catalog.client.get("/api/v1/calendar.ics")).content)
    uids = {str(e["uid"]) for e in full.walk("VEVENT")}
    assert f"{here['uid']}@dreamerscave" in uids
    assert (await catalog.client.get("/api/v1/calendar.ics?artist=nobody-here")).status_code == 404
    assert (await catalog.client.get("/api/v1/events/no-such-event.ics")).status_code == 404


async def test_event_time_zone_is_used(catalog):
    location = await make_location(catalog)
    event = await make_event(
        catalog, location["id"], timezone="Europe/Rome", start="2031-06-01T21:00:00", end="2031-06-01T23:00:00"
    )
    assert event["start_utc"] == "2031-06-01T19:00:00Z"
    cal = parse((await catalog.client.get(f"/api/v1/events/{event['slug']}.ics")).content)
    assert cal.walk("VEVENT")[0]["dtstart"].params["TZID"] == "Europe/Rome"
    assert str(cal.walk("VTIMEZONE")[0]["tzid"]) == "Europe/Rome"
