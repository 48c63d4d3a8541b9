"""Two replicas of every service: what must hold when a request, a job or an event may land on
either. Each check talks to the replicas on their own ports, so it knows which one did what.

- a write on either replica clears the response cache of both (catalog, blog);
- the outbox relays of both replicas publish each row once;
- a scheduled job runs once: blog posts going up; Patreon reconciliations never overlap;
- the sign-in throttle counts across replicas.
(Reminders are sent once and calendar pushes made once: the notification and integration
journeys count them, on this same two-replica stack.)
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

if TYPE_CHECKING:
    from conftest import BusListener

pytestmark = pytest.mark.e2e


def replicas(stack, service: str) -> list[httpx2.AsyncClient]:
    names = stack.instances(service)
    assert len(names) == stack.replicas >= 2, "these checks need the stack's default of two replicas"
    return [httpx2.AsyncClient(base_url=stack.service_url(name), timeout=30) for name in names]


async def cached_on(client: httpx2.AsyncClient, path: str) -> None:
    """Ask twice: the second answer is a 304 from the replica's cache."""
    first = await client.get(path)
    assert first.status_code == 200, first.text
    again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


async def fresh_on(client: httpx2.AsyncClient, path: str, check: Any, within: float = 5.0) -> float:
    """Seconds until `check(data)` holds for the replica's answer (the write's event clears it)."""
    started = time.monotonic()
    while True:
        answer = await client.get(path)
        assert answer.status_code == 200, answer.text
        if check(answer.json()["data"]):
            return time.monotonic() - started
        assert time.monotonic() - started < within, f"{client.base_url}{path} still stale after {within:g}s"
        await asyncio.sleep(0.02)


async def test_a_write_on_either_catalog_replica_clears_the_cache_of_both(stack, gateway, admin) -> None:
    created = await gateway.post(
        "/api/v1/admin/locations",
        headers=admin,
        json={"slug": f"echo-{uuid.uuid4().hex[:8]}", "name": "Echo Hall", "mood_category": "hybrid", "capacity": 40},
    )
    assert created.status_code == 201, created.text
    location = created.json()["data"]
    path = f"/api/v1/locations/{location['slug']}"
    clients = replicas(stack, "catalog")
    lags = []
    try:
        for capacity, writer in zip((41, 42), clients, strict=True):  # a write on each replica in turn
            for client in clients:
                await cached_on(client, path)
            written = await writer.put(
                f"/api/v1/admin/locations/{location['id']}", headers=admin, json={"capacity": capacity}
            )
            assert written.status_code == 200, written.text
            for client in clients:
                lags.append(await fresh_on(client, path, lambda data, c=capacity: data["capacity"] == c))
    finally:
        for client in clients:
            await client.aclose()
    print(f"\ncatalog cache cleared on every replica after a write, slowest {max(lags) * 1000:.0f} ms")


async def test_a_write_on_either_blog_replica_clears_the_cache_of_both(stack, gateway, admin) -> None:
    slug = f"cache-night-{uuid.uuid4().hex[:6]}"
    draft = await gateway.post("/api/v1/admin/blog/posts", headers=admin, json={"slug": slug, "title": "Cache night"})
    assert draft.status_code == 201, draft.text
    post_id = draft.json()["data"]["id"]
    published = await gateway.post(f"/api/v1/admin/blog/posts/{post_id}/publish", headers=admin, json={})
    assert published.status_code == 200, published.text
    path = f"/api/v1/blog/posts/{slug}"
    clients = replicas(stack, "blog")
    try:
        for title, writer in zip(("Cache night, part two", "Cache night, finale"), clients, strict=True):
            for client in clients:
                await fresh_on(client, path, lambda data: True)  # published: every replica answers 200
                await cached_on(client, path)
            written = await writer.patch(f"/api/v1/admin/blog/posts/{post_id}", headers=admin, json={"title": title})
            assert written.status_code == 200, written.text
            for client in clients:
                await fresh_on(client, path, lambda data, t=title: data["title"] == t)
    finally:
        for client in clients:
            await client.aclose()


async def test_relays_on_both_replicas_publish_each_outbox_row_once(stack, admin, bus: BusListener) -> None:
    clients = replicas(stack, "catalog")
    slugs = [f"relay-{uuid.uuid4().hex[:8]}" for _ in range(24)]
    try:
        answers = await asyncio.gather(
            *(
                clients[n % len(clients)].post(
                    "/api/v1/admin/locations",
                    headers=admin,
                    json={"slug": slug, "name": f"Relay room {n}", "mood_category": "hybrid"},
                )
                for n, slug in enumerate(slugs)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert [a.status_code for a in answers] == [201] * len(slugs)
    for slug in slugs:
        await bus.expect("catalog.location.updated", slug=slug)  # a new location is announced so too
    await asyncio.sleep(2)  # time for a second copy from the other relay, were there one
    while not bus.arrived.empty():
        bus.seen.append(bus.arrived.get_nowait())
    ours = [e for e in bus.seen if e["type"] == "catalog.location.updated" and e["data"]["slug"] in slugs]
    per_slug = Counter(e["data"]["slug"] for e in ours)
    per_id = Counter(e["id"] for e in ours)
    print(f"\n{len(slugs)} writes over {len(clients)} replicas: {len(ours)} events, {len(per_id)} distinct ids")
    assert per_slug == Counter(slugs) and len(per_id) == len(slugs)


async def test_scheduled_posts_go_up_once_with_two_schedulers(stack, gateway, admin, bus: BusListener) -> None:
    posts = []
    for n in range(4):
        slug = f"once-{n}-{uuid.uuid4().hex[:6]}"
        draft = await gateway.post("/api/v1/admin/blog/posts", headers=admin, json={"slug": slug, "title": f"Once {n}"})
        assert draft.status_code == 201, draft.text
        posts.append(draft.json()["data"])
    at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds").replace("+00:00", "Z")
    for post in posts:
        scheduled = await gateway.post(
            f"/api/v1/admin/blog/posts/{post['id']}/publish", headers=admin, json={"publish_at": at}
        )
        assert scheduled.status_code == 200 and scheduled.json()["data"]["status"] == "scheduled", scheduled.text
    for post in posts:
        await bus.expect("blog.post.published", id=post["id"])
    await asyncio.sleep(3)  # both schedulers have run again since
    while not bus.arrived.empty():
        bus.seen.append(bus.arrived.get_nowait())
    ids = {post["id"] for post in posts}
    published = Counter(e["data"]["id"] for e in bus.seen if e["type"] == "blog.post.published")
    assert {post_id: published[post_id] for post_id in ids} == dict.fromkeys(ids, 1)


async def sync_state(gateway: httpx2.AsyncClient, admin: dict[str, str], idle: bool) -> dict[str, Any]:
    """The reconciliation status; with `idle`, once no replica holds the lease."""
    async with asyncio.timeout(60):
        while True:
            state = (await gateway.get("/api/v1/admin/patreon/sync", headers=admin)).json()["data"]
            if not idle or not state["running"]:
                return state
            await asyncio.sleep(0.1)


async def test_reconciliations_asked_of_both_replicas_at_once_never_overlap(stack, gateway, admin) -> None:
    before = {run["id"] for run in (await sync_state(gateway, admin, idle=True))["runs"]}
    clients = replicas(stack, "membership")
    try:
        asked = []
        for _ in range(3):  # both at once, three times: a run may end before the other replica asks
            asked += await asyncio.gather(*(c.post("/api/v1/admin/patreon/sync", headers=admin) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    codes = Counter(a.status_code for a in asked)
    assert set(codes) <= {202, 409} and codes[202] >= 1, [a.text for a in asked]
    after = await sync_state(gateway, admin, idle=True)
    new_runs = sorted((run for run in after["runs"] if run["id"] not in before), key=lambda run: run["started_at"])
    # One run per 202, each finished; the lease row lets one replica run at a time, so no two overlap.
    assert len(new_runs) == codes[202], new_runs
    assert all(run["status"] == "succeeded" for run in new_runs), new_runs
    for earlier, later in itertools.pairwise(new_runs):
        assert earlier["finished_at"] <= later["started_at"], (earlier, later)
    print(f"\nreconciliation asked {len(asked)} times of {len(clients)} replicas: {dict(codes)}, runs never overlapped")


async def test_the_sign_in_throttle_counts_across_replicas(stack, gateway) -> None:
    email = f"throttle-{uuid.uuid4().hex[:10]}@example.com"
    registered = await gateway.post(
        "/api/v1/auth/register",
        json={"email": email, "username": f"t_{uuid.uuid4().hex[:10]}", "password": "a long night of music"},
    )
    assert registered.status_code == 202, registered.text
    clients = replicas(stack, "auth")
    try:
        codes = []
        for n in range(6):  # wrong passwords, one replica after the other
            answer = await clients[n % len(clients)].post(
                "/api/v1/auth/login", json={"email": email, "password": "not the password"}
            )
            codes.append(answer.status_code)
        right = [
            await c.post("/api/v1/auth/login", json={"email": email, "password": "a long night of music"})
            for c in clients
        ]
    finally:
        for client in clients:
            await client.aclose()
    # Five failures in all, not five per replica; then every replica refuses, the right password too.
    assert codes == [401] * 5 + [429]
    assert [r.status_code for r in right] == [429] * len(clients)
