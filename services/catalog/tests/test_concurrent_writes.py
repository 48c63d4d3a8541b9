"""Staff writing several new events at once: every write applies, none dies as a deadlock."""

from __future__ import annotations

import asyncio

from catalog_testkit import make_artist, make_location, unique

WRITERS = 8
ROUNDS = 3


async def test_new_events_written_at_once_never_deadlock(catalog):
    location = await make_location(catalog)
    artists = [await make_artist(catalog) for _ in range(3)]
    answers: list[tuple[str, int, str]] = []

    async def night() -> None:
        client, staff = catalog.client, catalog.staff
        body = {
            "slug": unique("rush"),
            "title": "Rush Night",
            "start": "2031-07-01T20:00:00",
            "end": "2031-07-01T23:00:00",
            "location_id": location["id"],
        }
        created = await client.post("/api/v1/admin/events", json=body, headers=staff)
        answers.append(("create", created.status_code, created.text))
        if created.status_code != 201:
            return
        event_id = created.json()["data"]["id"]
        lineup = {"lineup": [{"artist_id": a["id"]} for a in artists]}
        texts = {"translations": {"it": {"title": "Notte"}, "fr": {"title": "Nuit"}, "es": {"title": "Noche"}}}
        for part, payload in (("lineup", lineup), ("translations", texts)):
            answer = await client.put(f"/api/v1/admin/events/{event_id}/{part}", json=payload, headers=staff)
            answers.append((part, answer.status_code, answer.text))
        published = await client.post(f"/api/v1/admin/events/{event_id}/publish", headers=staff)
        answers.append(("publish", published.status_code, published.text))

    async with asyncio.timeout(60):
        for _ in range(ROUNDS):
            await asyncio.gather(*(night() for _ in range(WRITERS)))
    failed = [answer for answer in answers if answer[1] not in (200, 201)]
    assert not failed, failed[:3]
    assert len(answers) == WRITERS * ROUNDS * 4
