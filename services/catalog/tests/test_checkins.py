"""Check-ins from Second Life (integration.sl.checked_in): the event shows as live."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from catalog_testkit import make_event, make_location

from tdc_shared.events import publish


def at(hours: float, length: float = 3) -> dict[str, str]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=length)).isoformat()}


async def wait_for(condition, what: str, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await condition()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def check_in(catalog, event: dict, name: str, when: datetime, location: str = "ember") -> str:
    """What the integration service publishes when a DJ checks in (through the outbox)."""
    data = {
        "event_id": event["id"],
        "event_slug": event["slug"],
        "location": location,
        "avatar_key": str(uuid.uuid4()),
        "avatar_name": name,
        "checked_in_at": when.isoformat().replace("+00:00", "Z"),
    }
    async with catalog.db.transaction() as tx:
        sent = await publish(tx, "integration.sl.checked_in", data, source="integration")
    return str(sent.id)


async def recorded(catalog, bus_event_id: str) -> bool:
    return bool(await catalog.db.fetch_value("SELECT 1 FROM processed_events WHERE event_id = %s", (bus_event_id,)))


async def test_a_check_in_makes_the_event_live_and_staff_see_who(catalog):
    await asyncio.wait_for(catalog.app.state.event_bus.wait_ready(), 20)
    location = await make_location(catalog)
    event = await make_event(catalog, location["id"], **at(-1))  # started an hour ago
    url = f"/api/v1/events/{event['slug']}"
    before = await catalog.client.get(url)
    assert before.json()["data"]["live"] is None  # and now cached, as not live

    now = datetime.now(UTC).replace(microsecond=0)
    await check_in(catalog, event, "DJ Nova Resident", now - timedelta(minutes=50))

    async def live() -> dict | None:
        return (await catalog.client.get(url)).json()["data"]["live"]

    shown = await wait_for(live, "the event to show as live")
    assert shown == {
        "since": (now - timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "by": "DJ Nova Resident",
    }
    # A second check-in (the host) keeps the first as "since"; staff see both, newest first.
    second = await check_in(catalog, event, "Host Aria", now - timedelta(minutes=5))
    await wait_for(lambda: recorded(catalog, second), "the second check-in")
    assert (await live())["by"] == "DJ Nova Resident"
    admin = await catalog.client.get(f"/api/v1/admin/events/{event['id']}/checkins", headers=catalog.staff)
    assert admin.status_code == 200
    body = admin.json()["data"]
    assert body["live"]["by"] == "DJ Nova Resident"
    assert [c["avatar_name"] for c in body["checkins"]] == ["Host Aria", "DJ Nova Resident"]
    assert body["checkins"][0]["location"] == "ember" and body["checkins"][0]["checked_in_at"].endswith("Z")
    assert (await catalog.client.get(f"/api/v1/admin/events/{event['id']}/checkins")).status_code == 401
    assert (
        await catalog.client.get(f"/api/v1/admin/events/{event['id']}/checkins", headers=catalog.user)
    ).status_code == 403
    assert (
        await catalog.client.get("/api/v1/admin/events/99999999/checkins", headers=catalog.staff)
    ).status_code == 404


async def test_live_only_within_the_events_time(catalog):
    await asyncio.wait_for(catalog.app.state.event_bus.wait_ready(), 20)
    location = await make_location(catalog)
    upcoming = await make_event(catalog, location["id"], **at(5))  # starts in five hours
    ended = await make_event(catalog, location["id"], **at(-5, length=2))  # ended three hours ago
    now = datetime.now(UTC)
    ids = [
        await check_in(catalog, upcoming, "Too Early", now),
        await check_in(catalog, ended, "During The Night", now - timedelta(hours=4)),
    ]
    for bus_event_id in ids:
        await wait_for(lambda bus_event_id=bus_event_id: recorded(catalog, bus_event_id), "the check-ins")
    for event in (upcoming, ended):
        assert (await catalog.client.get(f"/api/v1/events/{event['slug']}")).json()["data"]["live"] is None
        staff = await catalog.client.get(f"/api/v1/admin/events/{event['id']}/checkins", headers=catalog.staff)
        assert len(staff.json()["data"]["checkins"]) == 1 and staff.json()["data"]["live"] is None


async def test_a_check_in_for_an_unknown_event_is_consumed_and_ignored(catalog):
    await asyncio.wait_for(catalog.app.state.event_bus.wait_ready(), 20)
    gone = {"id": 987654321, "slug": "no-such-event-anywhere"}
    bus_event_id = await check_in(catalog, gone, "Nobody", datetime.now(UTC))
    await wait_for(lambda: recorded(catalog, bus_event_id), "the check-in to be consumed")
    count = await catalog.db.fetch_value("SELECT COUNT(*) FROM event_checkins WHERE bus_event_id = %s", (bus_event_id,))
    assert count == 0
