"""One fault at a time under load through the gateway, and what must hold through each:

1. a catalog replica killed (SIGKILL) and started again: every read answered, every write
   applied whole or refused cleanly, nothing half-applied in the catalog's database;
2. the broker's application stopped and started twice while staff change the catalog: every
   change reaches notification, integration and the Second Life board's read model, once;
3. MariaDB stopped for 10 s under reads: quick 503 envelopes (or cached answers), then
   everything recovers with no service restarted;
4. one event type's handler failing for real (its table not writable by the service's own
   account): those events dead-lettered after the delivery limit, the rest flowing, and after
   the grant is back a replay applies each once.

These disturb servers every other test shares, so the `faults` marker puts them last
(conftest.py). Every fault is undone in `finally`; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tdc_shared.db import connect
from tdc_shared.settings import ServiceSettings

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def _tool(name: str) -> Any:
    """A module of tests-e2e/tools/, loaded by path as conftest.py loads its helpers."""
    spec = importlib.util.spec_from_file_location(f"tdc_e2e_{name}", Path(__file__).parent / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


load, outages = _tool("load"), _tool("outages")
Tally, print_table, run_load, status_rows = load.Tally, load.print_table, load.run_load, load.status_rows
broker_stopped, mariadb_stopped, table_read_only = (
    outages.broker_stopped,
    outages.mariadb_stopped,
    outages.table_read_only,
)

LANGUAGES = ("it", "fr", "es")
LINEUP = 3
MAX_BUS_EVENTS = 80  # events published during the broker test, at most


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
async def client(stack) -> AsyncIterator[httpx2.AsyncClient]:
    limits = httpx2.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx2.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as http:
        yield http


@pytest.fixture
def staff(admin: dict[str, str]) -> dict[str, str]:
    """The bootstrap admin's header (conftest.py): staff may write the catalog."""
    return admin


def unique(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:8]}"


def schema(stack, service: str) -> str:
    return f"{stack.env['TDC_DB_PREFIX']}{service}"


async def query(mysql_url: str, database: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of one statement in a service's schema, as root (the tests' own connection)."""
    conn = await connect(mysql_url, database)
    try:
        cursor = await conn.cursor(dictionary=True)
        await cursor.execute(sql, params)
        rows = list(await cursor.fetchall())
        await cursor.close()
        await conn.rollback()
        return rows
    finally:
        await conn.close()


async def query_in(
    mysql_url: str, database: str, head: str, values: list[Any] | set[Any], tail: str = ""
) -> list[dict[str, Any]]:
    """`head IN (values) tail`: e.g. head "SELECT id FROM known_events WHERE id"."""
    values = list(values)
    if not values:
        return []
    marks = ", ".join(["%s"] * len(values))
    return await query(mysql_url, database, f"{head} IN ({marks}){tail}", tuple(values))


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.5)


async def created(client: httpx2.AsyncClient, staff: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = await client.post(path, headers=staff, json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def venue_and_artists(client: httpx2.AsyncClient, staff: dict[str, str], count: int = LINEUP) -> tuple[Any, list]:
    venue = await created(
        client,
        staff,
        "/api/v1/admin/locations",
        {"slug": unique("fault-hall"), "name": "Fault Hall", "mood_category": "hybrid"},
    )
    artists = [
        await created(client, staff, "/api/v1/admin/artists", {"slug": unique("fault-dj"), "name": f"DJ Fault {n}"})
        for n in range(count)
    ]
    return venue, artists


def draft_body(slug: str, venue_id: int, day: int) -> dict[str, Any]:
    """A night in 2031 (well ahead: every consumer treats it as upcoming)."""
    date = f"2031-{1 + day % 12:02d}-{1 + day % 28:02d}"
    return {
        "slug": slug,
        "title": f"Night {slug}",
        "start": f"{date}T20:00:00",
        "end": f"{date}T23:00:00",
        "timezone": "Europe/Rome",
        "location_id": venue_id,
    }


def lineup_body(artists: list[dict[str, Any]]) -> dict[str, Any]:
    return {"lineup": [{"artist_id": a["id"]} for a in artists]}


def translations_body(slug: str) -> dict[str, Any]:
    return {"translations": {lang: {"title": f"{slug} ({lang})"} for lang in LANGUAGES}}


async def publish_night(
    client: httpx2.AsyncClient, staff: dict[str, str], venue_id: int, artists: list[dict[str, Any]], day: int
) -> dict[str, Any]:
    slug = unique("fault-night")
    event = await created(client, staff, "/api/v1/admin/events", draft_body(slug, venue_id, day))
    lineup = await client.put(f"/api/v1/admin/events/{event['id']}/lineup", headers=staff, json=lineup_body(artists))
    assert lineup.status_code == 200, lineup.text
    published = await client.post(f"/api/v1/admin/events/{event['id']}/publish", headers=staff)
    assert published.status_code == 200, published.text
    return published.json()["data"]


def admin_cli(stack, command: str, service: str) -> subprocess.CompletedProcess[str]:
    """`make dead-letters` / `make replay-dead-letters`, as an operator runs them."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tdc_shared.events.admin",
            command,
            "--service",
            service,
            "--namespace",
            stack.namespace,
            "--json",
        ],
        env={**os.environ, "TDC_AMQP_URL": stack.amqp_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def dead_letters(stack, service: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in admin_cli(stack, "list", service).stdout.splitlines() if line.strip()]


async def outbox_ids(mysql_url: str, stack, event_type: str, catalog_ids: list[int]) -> dict[int, list[str]]:
    """The catalog's outbox rows of `event_type` per catalog event id: what was sent on the bus."""
    rows = await query(
        mysql_url,
        schema(stack, "catalog"),
        "SELECT event_id, payload, sent_at FROM outbox WHERE event_type = %s",
        (event_type,),
    )
    out: dict[int, list[str]] = {}
    for row in rows:
        catalog_id = int(json.loads(row["payload"])["data"]["id"])
        if catalog_id in catalog_ids:
            out.setdefault(catalog_id, []).append(row["event_id"])
    return out


def steady(read: Callable[[], list[Any]]) -> list[Any]:
    """A copy of a fake server's records, which its own thread may be adding to meanwhile."""
    for _ in range(50):
        try:
            return read()
        except RuntimeError:  # changed size during iteration: read again
            time.sleep(0.01)
    return read()


async def every_bus_ready(stack, services: list[str], within: float = 60.0) -> None:
    """Until every replica of these services answers /readyz (its database and broker link up)."""
    async with httpx2.AsyncClient(timeout=5) as http:
        for name in [n for service in services for n in stack.instances(service)]:

            async def ready(name: str = name) -> bool:
                try:
                    return (await http.get(f"{stack.service_url(name)}/readyz")).status_code == 200
                except httpx2.HTTPError:
                    return False

            await eventually(ready, f"{name} to be ready", within)


def setting_of(stack, name: str) -> Any:
    """A setting as the stack's services have it: their environment, else the default."""
    value = (stack.env if stack is not None else {}).get(f"TDC_{name.upper()}")
    return value if value is not None else ServiceSettings.model_fields[name].default


def processes(stack) -> dict[str, int]:
    """Every process of the stack and its pid (to show that nothing was restarted)."""
    return {p.name: p.popen.pid for p in stack._stack.processes if p.popen is not None and p.popen.poll() is None}


# -- 1. a catalog replica killed under load ---------------------------------------------------


async def test_a_catalog_replica_killed_under_load(stack, client: httpx2.AsyncClient, staff, mysql_url: str) -> None:
    assert "catalog-2" in stack.instances("catalog"), "needs two catalog replicas"
    venue, artists = await venue_and_artists(client, staff)
    shown = [await publish_night(client, staff, venue["id"], artists, day) for day in range(3)]
    tag = f"kill{uuid.uuid4().hex[:6]}"
    serial = itertools.count()
    writes: dict[str, dict[str, Any]] = {}  # slug -> the answers its writes got

    async def reader(http: httpx2.AsyncClient, tally: Tally) -> None:
        choice = random.randrange(3)
        if choice == 0:
            await tally.request(http, "read", "GET", "/api/v1/events?per_page=20", name="GET /events")
        elif choice == 1:
            slug = random.choice(shown)["slug"]
            await tally.request(http, "read", "GET", f"/api/v1/events/{slug}", name="GET /events/{slug}")
        else:
            await tally.request(http, "read", "GET", "/api/v1/locations", name="GET /locations")

    async def writer(http: httpx2.AsyncClient, tally: Tally) -> None:
        n = next(serial)
        slug = f"{tag}-{n}"
        record: dict[str, Any] = writes.setdefault(slug, {})
        answer = await tally.request(
            http,
            "write",
            "POST",
            "/api/v1/admin/events",
            name="POST event",
            headers=staff,
            json=draft_body(slug, venue["id"], n),
        )
        record["create"] = answer.status_code if answer is not None else None
        if answer is None or answer.status_code != 201:
            return
        event_id = answer.json()["data"]["id"]
        record["id"] = event_id
        for part, body in (("lineup", lineup_body(artists)), ("translations", translations_body(slug))):
            answer = await tally.request(
                http,
                "put",
                "PUT",
                f"/api/v1/admin/events/{event_id}/{part}",
                name=f"PUT {part}",
                headers=staff,
                json=body,
            )
            record[part] = answer.status_code if answer is not None else None

    killed_at: list[float] = []

    async def kill_and_restart() -> None:
        await asyncio.sleep(5)
        stopped = False
        try:
            await asyncio.to_thread(stack.stop_instance, "catalog-2", signal.SIGKILL)
            stopped = True
            killed_at.append(time.monotonic())
            await asyncio.sleep(2)
        finally:
            if stopped:
                await asyncio.shield(asyncio.to_thread(stack.restart_instance, "catalog-2"))
                killed_at.append(time.monotonic())

    workers = [reader] * 40 + [writer] * 6
    tally, seconds = await run_load(client, workers, duration=20, during=kill_and_restart)

    # What the catalog's database holds of every event this load tried to create.
    slugs = list(writes)
    db = schema(stack, "catalog")
    rows = await query_in(
        mysql_url,
        db,
        "SELECT e.id, e.slug,"
        " (SELECT COUNT(*) FROM event_artists a WHERE a.event_id = e.id) AS lineup,"
        " (SELECT COUNT(*) FROM event_translations t WHERE t.event_id = e.id) AS translations,"
        " (SELECT COUNT(*) FROM event_search s WHERE s.event_id = e.id) AS search"
        " FROM events e WHERE e.slug",
        slugs,
    )
    stored = {row["slug"]: row for row in rows}
    half_applied = [
        row
        for row in rows
        if row["lineup"] not in (0, LINEUP) or row["translations"] not in (0, len(LANGUAGES)) or row["search"] != 1
    ]
    acknowledged_lost = [
        slug
        for slug, record in writes.items()
        if (record.get("create") == 201 and (slug not in stored or stored[slug]["id"] != record["id"]))
        or (record.get("lineup") == 200 and stored.get(slug, {}).get("lineup") != LINEUP)
        or (record.get("translations") == 200 and stored.get(slug, {}).get("translations") != len(LANGUAGES))
    ]
    applied_unanswered = [slug for slug, record in writes.items() if record.get("create") != 201 and slug in stored]

    reads, posts, puts = tally.statuses("read"), tally.statuses("write"), tally.statuses("put")
    # Refused cleanly: an error envelope with a 4xx, or a 502/503/504 from the gateway; never a 500.
    unclean = [
        o
        for o in [*tally.of("write"), *tally.of("put")]
        if o.status not in (200, 201) and not (o.status in (400, 404, 409, 422, 502, 503, 504) and o.envelope)
    ]
    print_table(
        "fault 1: catalog-2 killed (SIGKILL) and restarted under load",
        [
            ("seconds of load", f"{seconds:.1f}"),
            ("catalog-2 down (s)", f"{killed_at[1] - killed_at[0]:.1f}" if len(killed_at) == 2 else "?"),
            ("requests", len(tally.outcomes)),
            ("requests per second", f"{len(tally.outcomes) / seconds:.0f}"),
            ("reads", sum(reads.values())),
            *status_rows("  read", reads),
            ("event creations (POST)", sum(posts.values())),
            *status_rows("  POST", posts),
            ("lineup/translation writes (PUT)", sum(puts.values())),
            *status_rows("  PUT", puts),
            ("writes refused uncleanly", len(unclean)),
            ("refused but applied (answer lost)", len(applied_unanswered)),
            ("events stored", len(stored)),
            ("half-applied events", len(half_applied)),
            ("acknowledged writes lost", len(acknowledged_lost)),
            ("slowest read (s)", f"{tally.slowest('read'):.2f}"),
        ],
    )
    assert len(killed_at) == 2, "catalog-2 was not killed and restarted"
    assert len(tally.outcomes) / seconds >= 100, "the load was too light to show anything"
    assert set(reads) == {200}, f"idempotent reads that failed: {reads}"
    assert not unclean, [(o.name, o.status, o.error) for o in unclean[:5]]
    assert set(puts) <= {200}, f"idempotent PUTs that failed: {puts}"
    assert 500 not in posts
    assert not half_applied, half_applied[:5]
    assert not acknowledged_lost, acknowledged_lost[:5]
    assert posts[201] > 0


# -- 2. the broker restarted twice while the catalog changes ------------------------------------


async def test_broker_restarted_twice_every_change_arrives_once(
    stack, client: httpx2.AsyncClient, staff, mysql_url: str, integration_fakes
) -> None:
    venue, artists = await venue_and_artists(client, staff, count=2)
    await every_bus_ready(stack, ["catalog", "integration", "notification"])
    published: list[dict[str, Any]] = []
    renamed: dict[int, str] = {}  # catalog id -> title after an update
    day = itertools.count(40)

    async def editor(http: httpx2.AsyncClient, tally: Tally) -> None:
        if len(published) >= MAX_BUS_EVENTS:  # a long outage must not make the effects to wait for unbounded
            await asyncio.sleep(0.5)
            return
        n = next(day)
        slug = unique("fault-bus")
        answer = await tally.request(
            http,
            "write",
            "POST",
            "/api/v1/admin/events",
            name="POST event",
            headers=staff,
            json=draft_body(slug, venue["id"], n),
        )
        if answer is None or answer.status_code != 201:
            return
        event_id = answer.json()["data"]["id"]
        await tally.request(
            http, "write", "PUT", f"/api/v1/admin/events/{event_id}/lineup", headers=staff, json=lineup_body(artists)
        )
        answer = await tally.request(http, "write", "POST", f"/api/v1/admin/events/{event_id}/publish", headers=staff)
        if answer is None or answer.status_code != 200:
            return
        published.append(answer.json()["data"])
        if n % 2 == 0:  # every other one also changes once published: catalog.event.updated
            title = f"Renamed {slug}"
            answer = await tally.request(
                http, "write", "PUT", f"/api/v1/admin/events/{event_id}", headers=staff, json={"title": title}
            )
            if answer is not None and answer.status_code == 200:
                renamed[event_id] = title
        await asyncio.sleep(0.5)

    outages: list[float] = []

    async def restart_broker_twice() -> None:
        for _ in range(2):
            # A stop while services are still setting up their connections waits for them (up to
            # the broker's 70 s shutdown timeout per stuck connection): stop a settled broker only.
            await every_bus_ready(stack, ["catalog", "integration", "notification"])
            await asyncio.sleep(3)
            started = time.monotonic()
            async with broker_stopped():
                await asyncio.sleep(4)
            outages.append(time.monotonic() - started)

    tally, _ = await run_load(client, [editor] * 2, duration=15, during=restart_broker_twice, grace=120)
    writes = tally.statuses("write")
    assert set(writes) == {200, 201}, f"catalog writes failed while the broker was away: {writes}"
    ids = [int(e["id"]) for e in published]
    slugs = {int(e["id"]): e["slug"] for e in published}
    titles = {i: renamed.get(i, f"Night {slugs[i]}") for i in ids}
    google, graph = integration_fakes.google, integration_fakes.graph
    calendars = (integration_fakes.internal_calendar, integration_fakes.public_calendar)
    integration_db, notification_db = schema(stack, "integration"), schema(stack, "notification")

    def remote_events(calendar: str) -> Counter[int]:
        found: Counter[int] = Counter()
        for entry in steady(lambda: list(google.events(calendar, visible_only=False).values())):
            tdc_id = entry.get("extendedProperties", {}).get("private", {}).get("tdcEventId")
            if tdc_id is not None and int(tdc_id) in titles:
                found[int(tdc_id)] += 1
        return found

    def posts() -> Counter[int]:
        by_slug = {f"/events/{slug}": i for i, slug in slugs.items()}
        found: Counter[int] = Counter()
        for post in steady(lambda: list(graph.posts.values())):
            for tail, i in by_slug.items():
                if post.link and post.link.endswith(tail):
                    found[i] += 1
        return found

    async def effects() -> dict[str, Any]:
        board = await query_in(
            mysql_url, integration_db, "SELECT catalog_id, status, snapshot FROM catalog_events WHERE catalog_id", ids
        )
        pushes = await query_in(
            mysql_url, integration_db, "SELECT catalog_id, status FROM pushes WHERE catalog_id", ids
        )
        known = await query_in(mysql_url, notification_db, "SELECT id, context FROM known_events WHERE id", ids)
        return {
            "board": {
                int(r["catalog_id"]): json.loads(r["snapshot"])["translations"]["en"]["title"]
                for r in board
                if r["status"] == "published"
            },
            "pushes_done": Counter(int(r["catalog_id"]) for r in pushes if r["status"] == "done"),
            "pushes": Counter(int(r["catalog_id"]) for r in pushes),
            "known": {int(r["id"]): json.loads(r["context"])["event"]["titles"]["en"] for r in known},
            "google": [remote_events(c) for c in calendars],
            "posts": posts(),
        }

    targets = len(await query(mysql_url, integration_db, "SELECT integration, target FROM push_targets"))

    async def settled() -> dict[str, Any] | None:
        seen = await effects()
        complete = (
            seen["board"] == titles
            and seen["known"] == titles
            and all(seen["pushes_done"][i] == targets for i in ids)
            and all(set(found) == set(ids) for found in seen["google"])
            and set(seen["posts"]) == set(ids)
        )
        return seen if complete else None

    settling = time.monotonic()
    try:
        seen = await eventually(settled, "every change to reach every consumer", within=90)
    except AssertionError:
        seen = await effects()
    settle_seconds = time.monotonic() - settling
    sent = await outbox_ids(mysql_url, stack, "catalog.event.published", ids)
    updates = await outbox_ids(mysql_url, stack, "catalog.event.updated", ids)
    bus_events = [e for events in (*sent.values(), *updates.values()) for e in events]
    inboxes = {}
    for service, db in (("integration", integration_db), ("notification", notification_db)):
        rows = await query_in(mysql_url, db, "SELECT event_id FROM processed_events WHERE event_id", bus_events)
        inboxes[service] = {r["event_id"] for r in rows}
    duplicates = {
        "google": sum(n - 1 for found in seen["google"] for n in found.values() if n > 1),
        "facebook": sum(n - 1 for n in seen["posts"].values() if n > 1),
        "pushes": sum(n - targets for n in seen["pushes"].values() if n > targets),
    }
    losses = {
        "board": len(set(ids) - set(seen["board"]))
        + sum(seen["board"].get(i) not in (None, t) for i, t in titles.items()),
        "notification": len(set(ids) - set(seen["known"])),
        "google": sum(len(set(ids) - set(found)) for found in seen["google"]),
        "facebook": len(set(ids) - set(seen["posts"])),
        "inbox integration": len(set(bus_events) - inboxes["integration"]),
        "inbox notification": len(set(bus_events) - inboxes["notification"]),
    }
    print_table(
        "fault 2: broker application stopped and started twice",
        [
            ("outages (s, stop to ready)", ", ".join(f"{s:.1f}" for s in outages)),
            ("catalog writes", sum(writes.values())),
            *status_rows("  write", writes),
            ("effects settled after the load (s)", f"{settle_seconds:.1f}"),
            ("events published", len(ids)),
            ("events updated after publishing", len(renamed)),
            ("bus events sent (outbox)", len(bus_events)),
            ("in integration's inbox", len(inboxes["integration"])),
            ("in notification's inbox", len(inboxes["notification"])),
            ("board read model rows", len(seen["board"])),
            ("notification known events", len(seen["known"])),
            (f"pushes done (x{targets} targets)", sum(seen["pushes_done"].values())),
            *[
                (f"google events on {c.split('@')[0]}", sum(f.values()))
                for c, f in zip(calendars, seen["google"], strict=True)
            ],
            ("facebook posts", sum(seen["posts"].values())),
            *[(f"duplicates {k}", v) for k, v in duplicates.items()],
            *[(f"losses {k}", v) for k, v in losses.items()],
        ],
    )
    assert len(outages) == 2
    assert ids, "nothing was published"
    assert all(len(sent.get(i, [])) == 1 for i in ids), "one catalog.event.published per published event"
    assert not any(duplicates.values()), duplicates
    assert not any(losses.values()), losses


# -- 3. MariaDB stopped under a read load -----------------------------------------------------


async def test_mariadb_stopped_under_reads_then_everything_recovers(
    stack, client: httpx2.AsyncClient, staff, mysql_url: str
) -> None:
    venue, artists = await venue_and_artists(client, staff, count=1)
    night = await publish_night(client, staff, venue["id"], artists, 80)
    bound = float(setting_of(stack, "db_pool_wait_seconds")) + 2.0  # the pool's wait, and a margin
    before = processes(stack)
    window: dict[str, float] = {}

    async def reader(http: httpx2.AsyncClient, tally: Tally) -> None:
        # Public answers may come from the catalog's cache; staff reads always ask the database.
        choice = random.randrange(4)
        if choice == 0:
            await tally.request(http, "read", "GET", "/api/v1/events?per_page=10", name="GET /events")
        elif choice == 1:
            await tally.request(http, "read", "GET", f"/api/v1/events/{night['slug']}", name="GET /events/{slug}")
        elif choice == 2:
            await tally.request(http, "read", "GET", "/api/v1/locations", name="GET /locations")
        else:
            url = f"/api/v1/admin/events/{night['id']}"
            await tally.request(http, "read", "GET", url, name="GET /admin/events/{id}", headers=staff)
        await asyncio.sleep(0.02)

    async def outage() -> None:
        await asyncio.sleep(3)
        window["stopping"] = time.monotonic()
        async with mariadb_stopped(mysql_url):
            window["down"] = time.monotonic()
            await asyncio.sleep(10)
            window["starting"] = time.monotonic()
        window["up"] = time.monotonic()

    tally, seconds = await run_load(client, [reader] * 24, duration=16, during=outage, grace=120)
    assert {"down", "up"} <= set(window), window
    during = [o for o in tally.of("read") if window["down"] <= o.started < window["starting"]]
    statuses, during_statuses = tally.statuses("read"), Counter(o.status for o in during)
    unclean = [o for o in tally.of("read") if o.status not in (200, 503) or (o.status == 503 and not o.envelope)]
    slow = [o for o in tally.of("read") if o.seconds > bound]

    # After the start: reads answered again and a write applied, no process restarted.
    recovered_at = time.monotonic()

    async def reads_answer() -> bool:
        answers = [
            await client.get(f"/api/v1/events/{night['slug']}", headers={"Cache-Control": "no-cache"}),
            await client.get("/api/v1/admin/events?per_page=1", headers=staff),
        ]
        return all(a.status_code == 200 for a in answers)

    await eventually(reads_answer, "reads to be answered again", within=30)

    async def a_write_applies() -> bool:
        answer = await client.post(
            "/api/v1/admin/locations",
            headers=staff,
            json={"slug": unique("after-outage"), "name": "After", "mood_category": "hybrid"},
        )
        assert answer.status_code in (201, 503), answer.text
        return answer.status_code == 201

    await eventually(a_write_applies, "a write to succeed", within=30)
    login = await client.post("/api/v1/auth/login", json={"email": stack.admin_email, "password": stack.admin_password})
    recovery = time.monotonic() - recovered_at
    after = processes(stack)
    print_table(
        "fault 3: MariaDB stopped for 10 s under reads",
        [
            ("seconds of load", f"{seconds:.1f}"),
            ("MariaDB down (s)", f"{window['starting'] - window['down']:.1f}"),
            ("stop took (s)", f"{window['down'] - window['stopping']:.1f}"),
            ("start took (s)", f"{window['up'] - window['starting']:.1f}"),
            ("reads", sum(statuses.values())),
            *status_rows("  read", statuses),
            ("reads sent while down", len(during)),
            *status_rows("  while down", during_statuses),
            ("not 200 nor a 503 envelope", len(unclean)),
            (f"slower than {bound:g}s", len(slow)),
            ("slowest read (s)", f"{tally.slowest('read'):.2f}"),
            ("recovered after start (s)", f"{recovery:.1f}"),
            ("processes restarted", len([n for n, pid in before.items() if after.get(n) != pid])),
        ],
    )
    assert not unclean, [(o.name, o.status, o.error) for o in unclean[:5]]
    assert not slow, [(o.name, o.status, round(o.seconds, 2)) for o in slow[:5]]
    assert during_statuses[503] > 0, "the outage was not seen"
    assert login.status_code == 200, login.text
    assert after == before, "a process was restarted or died"


# -- 4. one event type's handler failing: dead letters, then a replay ----------------------------


async def test_a_failing_handler_dead_letters_its_events_and_a_replay_applies_them_once(
    stack, client: httpx2.AsyncClient, staff, mysql_url: str
) -> None:
    service = "notification"
    db = schema(stack, service)
    account = db  # each service's account is named as its schema (deploy/mysql/initdb)
    venue, artists = await venue_and_artists(client, staff, count=1)
    assert dead_letters(stack, service) == []
    failing: list[dict[str, Any]] = []
    flowing: dict[str, list[int]] = {"artist": [], "location": []}
    # The notification service writes known_events only for catalog.event.published/updated:
    # with that table read-only for its account, those events fail, every other one is applied.
    async with table_read_only(mysql_url, account, db, "known_events"):
        for n in range(4):
            failing.append(await publish_night(client, staff, venue["id"], artists, 120 + n))
            artist = await created(
                client, staff, "/api/v1/admin/artists", {"slug": unique("fault-mc"), "name": f"MC {n}"}
            )
            flowing["artist"].append(artist["id"])
        place = await created(
            client,
            staff,
            "/api/v1/admin/locations",
            {"slug": unique("fault-bar"), "name": "Bar", "mood_category": "hybrid"},
        )
        flowing["location"].append(place["id"])
        ids = [int(e["id"]) for e in failing]
        sent = await outbox_ids(mysql_url, stack, "catalog.event.published", ids)
        published_ids = {event_id for events in sent.values() for event_id in events}

        async def all_dead() -> list[dict[str, Any]] | None:
            letters = await asyncio.to_thread(dead_letters, stack, service)
            return letters if {letter["event_id"] for letter in letters} >= published_ids else None

        letters = await eventually(all_dead, "the failing events in the dead-letter queue", within=60)

        async def others_applied() -> int:
            artists_known = await query_in(mysql_url, db, "SELECT id FROM known_artists WHERE id", flowing["artist"])
            places_known = await query(mysql_url, db, "SELECT id FROM known_locations WHERE id = %s", (place["id"],))
            return len(artists_known) + len(places_known)

        others_sent = len(flowing["artist"]) + len(flowing["location"])
        deadline = time.monotonic() + 30
        while (others_seen := await others_applied()) < others_sent and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        known_while_failing = await query_in(mysql_url, db, "SELECT id FROM known_events WHERE id", ids)
        integration_saw = await query_in(
            mysql_url, schema(stack, "integration"), "SELECT catalog_id FROM catalog_events WHERE catalog_id", ids
        )
    grants = await outages.grants_of(mysql_url, account)
    replay = admin_cli(stack, "replay", service)
    replayed = [json.loads(line) for line in replay.stdout.splitlines() if line.strip()]

    async def applied() -> list[dict[str, Any]] | None:
        rows = await query_in(mysql_url, db, "SELECT id FROM known_events WHERE id", ids)
        return rows if len(rows) == len(ids) else None

    known = await eventually(applied, "the replayed events to be applied", within=30)
    inbox = await query_in(
        mysql_url,
        db,
        "SELECT event_id, COUNT(*) AS n FROM processed_events WHERE event_id",
        published_ids,
        tail=" GROUP BY event_id",
    )
    left = dead_letters(stack, service)
    again = [line for line in admin_cli(stack, "replay", service).stdout.splitlines() if line.strip()]
    ours = [letter for letter in letters if letter["event_id"] in published_ids]
    print_table(
        "fault 4: notification may not write known_events",
        [
            ("events sent: catalog.event.published", len(published_ids)),
            ("events sent: other types", others_sent),
            ("dead-lettered", len(ours)),
            ("  attempts each", ",".join(sorted({str(letter["attempts"]) for letter in ours}))),
            ("other events applied meanwhile", others_seen),
            ("applied before the replay", len(known_while_failing)),
            ("integration applied meanwhile", len(integration_saw)),
            ("replayed", len(replayed)),
            ("applied after the replay", len(known)),
            ("inbox rows per event (max)", max((int(r["n"]) for r in inbox), default=0)),
            ("dead letters left", len(left)),
            ("replayed by a second replay", len(again)),
        ],
    )
    # The account holds what it held before: everything on its schema, nothing table by table.
    assert grants == [g for g in grants if "USAGE" in g or f"`{db}`.*" in g], grants
    assert any(f"ALL PRIVILEGES ON `{db}`.*" in g for g in grants), grants
    assert others_seen == others_sent
    assert len(published_ids) == len(ids)
    assert all(letter["type"] == "catalog.event.published" for letter in ours), ours
    assert all(letter["attempts"] == int(setting_of(stack, "bus_max_attempts")) for letter in ours), ours
    assert "INSERT command denied" in ours[0]["error"] or "denied" in ours[0]["error"], ours[0]["error"]
    assert known_while_failing == []
    assert len(integration_saw) == len(ids), "the other consumer of the same events was held up"
    assert {r["event_id"] for r in replayed} == published_ids
    assert {r["event_id"]: int(r["n"]) for r in inbox} == dict.fromkeys(published_ids, 1)
    assert left == [] and again == []
