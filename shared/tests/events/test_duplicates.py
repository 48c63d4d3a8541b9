"""The same event delivered twice at the same moment (to two replicas): one effect."""

from __future__ import annotations

import asyncio

import aio_pika

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry
from tdc_shared.events.topology import Names

from .conftest import bus_settings, counter_value, running_service, wait_until

LOCK_WAITS = (
    "SELECT COUNT(*) FROM information_schema.INNODB_TRX t"
    " JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id"
    " WHERE t.trx_state = 'LOCK WAIT' AND p.DB = %s"
)


async def test_two_simultaneous_copies_apply_once(mysql_url, amqp_url, schema_prefix, namespace):
    # Prefetch 1: the replica holding the first copy cannot take the second, so the second
    # goes to the other replica and both transactions really run at the same time.
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_prefetch=1)
    handlers = HandlerRegistry()
    entered = asyncio.Event()
    gate = asyncio.Event()

    @handlers.on("catalog.event.published")
    async def slow_apply(tx: Session, event: Event) -> None:
        entered.set()
        await gate.wait()  # hold the inbox row uncommitted while the other copy arrives
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), "applied"))

    async with (
        running_service("notification", settings, handlers=handlers, relay=False) as replica_a,
        running_service("notification", settings, handlers=handlers, relay=False) as replica_b,
    ):
        event = Event(type="catalog.event.published", source="catalog", data={"id": 7, "slug": "twice"})
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(Names(namespace).exchange)
            for _ in range(2):
                await exchange.publish(
                    aio_pika.Message(event.to_json().encode(), message_id=str(event.id), type=event.type),
                    routing_key=event.type,
                )

        async with asyncio.timeout(20):
            await entered.wait()
        db = replica_a.state.db

        async def second_copy_waits_on_the_inbox() -> bool:
            return await db.fetch_value(LOCK_WAITS, (db.schema,)) >= 1

        await wait_until(second_copy_waits_on_the_inbox, what="the second copy to block on the inbox row")
        gate.set()

        def outcomes(outcome: str) -> float:
            return sum(
                counter_value(app, "tdc_events_handled_total", type=event.type, outcome=outcome)
                for app in (replica_a, replica_b)
            )

        async def both_settled() -> bool:
            return outcomes("handled") + outcomes("duplicate") == 2

        await wait_until(both_settled, what="both copies to be acked")
        assert (outcomes("handled"), outcomes("duplicate")) == (1, 1)
        assert await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (str(event.id),)) == 1


async def test_batches_mixing_new_events_and_copies_apply_each_once(mysql_url, amqp_url, schema_prefix, namespace):
    """Deliveries that arrive together share a transaction; copies among them (of each other,
    or of events already applied) must still be applied once."""
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_prefetch=32, bus_consumer_workers=2)
    handlers = HandlerRegistry()

    @handlers.on("catalog.event.published")
    async def apply(tx: Session, event: Event) -> None:
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), "applied"))

    events = [Event(type="catalog.event.published", source="catalog", data={"id": n}) for n in range(40)]
    copies = events + events[::3] + events[::5]  # 40 events, 22 extra copies
    async with running_service("notification", settings, handlers=handlers, relay=False) as consumer:
        # Applied before: the first five (a replay of these must be a no-op).
        async with consumer.state.db.transaction() as tx:
            for event in events[:5]:
                await tx.execute(
                    "INSERT INTO processed_events (event_id, event_type) VALUES (%s, %s)", (str(event.id), event.type)
                )
                await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), "earlier"))
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(Names(namespace).exchange)
            # Each wave all in flight at once, so that its deliveries reach the consumer together.
            for wave in (events, events[::3] + events[::5]):
                await asyncio.gather(
                    *(
                        exchange.publish(
                            aio_pika.Message(event.to_json().encode(), message_id=str(event.id), type=event.type),
                            routing_key=event.type,
                        )
                        for event in wave
                    )
                )

        def outcome(name: str) -> float:
            return counter_value(consumer, "tdc_events_handled_total", type="catalog.event.published", outcome=name)

        async def all_settled() -> bool:
            return outcome("handled") + outcome("duplicate") == len(copies)

        await wait_until(all_settled, what="every copy to be acked")
        assert (outcome("handled"), outcome("duplicate")) == (35, len(copies) - 35)
        batches = consumer.state.metrics_registry.get_sample_value("tdc_event_batch_size_count")
        assert batches < len(copies), "no deliveries were applied together: the batch path went untested"
        effects = await consumer.state.db.fetch_one("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM effects")
        assert (effects["n"], effects["d"]) == (40, 40)
