"""A handler whose transaction InnoDB picks as a deadlock victim: applied again at once, no attempt used."""

from __future__ import annotations

import asyncio
import uuid

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry, publish

from .conftest import bus_settings, counter_value, running_service, wait_until


async def test_a_deadlock_victim_is_applied_again_without_using_an_attempt(
    mysql_url, amqp_url, schema_prefix, namespace
):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_max_attempts=3)
    handlers = HandlerRegistry()
    tag = uuid.uuid4().hex[:8]
    rows: dict[str, int] = {}  # the two rows locked crosswise, by primary key (a lock on exactly one row)
    runs: list[str] = []
    handler_holds_first, rival_holds_second = asyncio.Event(), asyncio.Event()
    waits_failed: list[str] = []
    rival_done: list[str] = []
    lock = "SELECT id FROM effects WHERE id = %s FOR UPDATE"

    async def rival(db) -> None:
        # Heavier than the handler's transaction (50 rows written), so InnoDB rolls back the handler's.
        async with db.transaction() as tx:
            for n in range(50):
                await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (f"heavy-{tag}", str(n)))
            await asyncio.wait_for(handler_holds_first.wait(), 10)
            await tx.fetch_one(lock, (rows["second"],))
            rival_holds_second.set()
            await tx.fetch_one(lock, (rows["first"],))  # waits for the handler, which now waits for us
        rival_done.append("committed")

    @handlers.on("catalog.event.published")
    async def apply(tx: Session, event: Event) -> None:
        runs.append(str(event.id))
        await tx.fetch_one(lock, (rows["first"],))
        if len(runs) == 1:
            handler_holds_first.set()
            try:
                await asyncio.wait_for(rival_holds_second.wait(), 10)
            except TimeoutError:
                waits_failed.append("the rival never took the second row")
                raise RuntimeError("no deadlock was set up") from None
        await tx.fetch_one(lock, (rows["second"],))
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), "applied"))

    async with (
        running_service("notification", settings, handlers=handlers, relay=False) as consumer,
        running_service("catalog", settings) as producer,
    ):
        db = consumer.state.db
        for row in ("first", "second"):
            rows[row] = await db.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (f"lock-{tag}", row))
        rival_task = asyncio.create_task(rival(db))
        async with producer.state.db.transaction() as tx:
            event = await publish(tx, "catalog.event.published", {"id": 1, "slug": tag}, source="catalog")

        async def applied() -> bool:
            return bool(await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (str(event.id),)))

        await wait_until(applied, what="the event to be applied after the deadlock")
        await asyncio.wait_for(rival_task, 10)
        assert waits_failed == [] and rival_done == ["committed"]
        assert runs == [str(event.id)] * 2  # rolled back once as the victim, then applied
        assert counter_value(consumer, "tdc_events_handled_total", type=event.type, outcome="handled") == 1
        assert counter_value(consumer, "tdc_events_handled_total", type=event.type, outcome="retried") == 0
        assert await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (f"heavy-{tag}",)) == 50
