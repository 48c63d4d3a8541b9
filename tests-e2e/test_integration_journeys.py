"""Integration journeys through the gateway: a staff member publishes, reschedules and cancels a
night; the fake internal and public Google calendars and the fake Facebook page end in the
right state, with one Google event per catalog event; admins see it all in the integration log."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.e2e


async def eventually(check: Callable[[], Awaitable[Any] | Any], what: str, within: float = 60.0) -> Any:
    """Bounded polling until `check` returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
async def client(stack) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30) as http:
        yield http


async def login(client: httpx2.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


@pytest.fixture
async def admin(stack, client: httpx2.AsyncClient) -> dict[str, str]:
    return await login(client, stack.admin_email, stack.admin_password)


@pytest.fixture
async def staff(client: httpx2.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    """A registered member made staff by the admin: the person who runs the club's nights."""
    email, password = f"host-{uuid.uuid4().hex[:10]}@example.com", "the host of many nights"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "username": f"h_{uuid.uuid4().hex[:10]}", "password": password}
    )
    assert registered.status_code == 202, registered.text  # the same answer for known and new addresses
    token = (await login(client, email, password))["Authorization"].split()[1].split(".")[1]
    user_id = int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["sub"])
    promoted = await client.patch(f"/api/v1/admin/users/{user_id}", headers=admin, json={"role": "staff"})
    assert promoted.status_code == 200, promoted.text
    return await login(client, email, password)


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"


async def test_publish_reschedule_cancel_reach_both_calendars_and_the_page(
    client: httpx2.AsyncClient, staff: dict[str, str], admin: dict[str, str], integration_fakes
) -> None:
    google, graph = integration_fakes.google, integration_fakes.graph
    internal, public = integration_fakes.internal_calendar, integration_fakes.public_calendar

    venue = await client.post(
        "/api/v1/admin/locations",
        headers=staff,
        json={"slug": unique("aurora"), "name": "Aurora Hall", "mood_category": "cosmic_tech"},
    )
    assert venue.status_code == 201, venue.text
    artist = await client.post("/api/v1/admin/artists", headers=staff, json={"slug": unique("dj"), "name": "DJ Comet"})
    assert artist.status_code == 201, artist.text
    draft = await client.post(
        "/api/v1/admin/events",
        headers=staff,
        json={
            "slug": unique("meteor"),
            "title": "Meteor Shower",
            "start": "2031-10-03T20:00:00",
            "end": "2031-10-03T23:00:00",
            "timezone": "America/Los_Angeles",
            "location_id": venue.json()["data"]["id"],
        },
    )
    assert draft.status_code == 201, draft.text
    event = draft.json()["data"]
    lineup = await client.put(
        f"/api/v1/admin/events/{event['id']}/lineup",
        headers=staff,
        json={"lineup": [{"artist_id": artist.json()["data"]["id"], "set_start": "2031-10-03T21:00:00"}]},
    )
    assert lineup.status_code == 200, lineup.text
    published = await client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=staff)
    assert published.status_code == 200, published.text

    def ours(calendar: str) -> list[dict[str, Any]]:
        return [
            e
            for e in google.events(calendar, visible_only=False).values()
            if e.get("extendedProperties", {}).get("private", {}).get("tdcEventId") == str(event["id"])
        ]

    def has(calendar: str, path: tuple[str, ...], expected: Any) -> bool:
        found = ours(calendar)
        value: Any = found[0] if found else None
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value == expected

    def post() -> Any:
        found = [p for p in graph.live_posts().values() if p.link and p.link.endswith(f"/events/{event['slug']}")]
        return found[0] if found else None

    for calendar in (internal, public):
        entry = (await eventually(partial(ours, calendar), f"the event on {calendar}"))[0]
        assert entry["summary"] == "Meteor Shower"
        assert entry["start"] == {"dateTime": "2031-10-03T20:00:00-07:00", "timeZone": "America/Los_Angeles"}
    assert "DJ Comet 21:00" in ours(internal)[0]["description"]
    assert f"/admin/events/{event['id']}" in ours(internal)[0]["description"]
    assert "/admin/" not in ours(public)[0]["description"]
    page_post = await eventually(post, "the page post")
    assert page_post.message.startswith("Meteor Shower\n2031-10-03 20:00-23:00 PDT")

    # Rescheduled an hour later.
    moved = await client.put(
        f"/api/v1/admin/events/{event['id']}",
        headers=staff,
        json={"start": "2031-10-03T21:00:00", "end": "2031-10-04T00:00:00"},
    )
    assert moved.status_code == 200, moved.text
    for calendar in (internal, public):
        moved_start = partial(has, calendar, ("start", "dateTime"), "2031-10-03T21:00:00-07:00")
        await eventually(moved_start, f"the new time on {calendar}")
    await eventually(lambda: "2031-10-03 21:00" in post().message, "the edited post")

    cancelled = await client.post(f"/api/v1/admin/events/{event['id']}/cancel", headers=staff)
    assert cancelled.status_code == 200, cancelled.text
    for calendar in (internal, public):
        marked = partial(has, calendar, ("summary",), "Cancelled: Meteor Shower")
        await eventually(marked, f"the cancellation on {calendar}")
        [entry] = ours(calendar)  # one Google event per catalog event, all along
        assert entry["status"] == "confirmed"
    await eventually(lambda: post().message.startswith("Cancelled: Meteor Shower"), "the post marked cancelled")
    assert len([p for p in graph.posts.values() if p.link and p.link.endswith(f"/events/{event['slug']}")]) == 1

    # Admins see the pushes in the status and the log, through the gateway; staff do not.
    async def settled() -> bool:
        status = (await client.get("/api/v1/admin/integrations", headers=admin)).json()["data"]
        return all(i["state"] == "enabled" and i["pending"] == 0 and i["failed"] == 0 for i in status)

    await eventually(settled, "every push to be done")
    log = await client.get(f"/api/v1/admin/integrations/log?event_id={event['id']}&per_page=100", headers=admin)
    assert log.status_code == 200
    actions = {(r["integration"], r["action"]) for r in log.json()["data"]}
    assert {("google", "insert"), ("google", "update"), ("facebook", "post"), ("facebook", "edit")} <= actions
    assert graph.token not in log.text
    assert (await client.get("/api/v1/admin/integrations", headers=staff)).status_code == 403
    summary = await client.get("/api/v1/admin/integrations/summary", headers=admin)
    assert summary.status_code == 200 and summary.json()["data"]["integrations"]["google"]["state"] == "enabled"
