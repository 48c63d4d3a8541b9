"""An event written through the outbox reaches a consuming service once, promptly."""

from __future__ import annotations

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry, publish

from .conftest import bus_settings, counter_value, running_service, wait_until


def event_data(n: int) -> dict:
    return {"id": n, "slug": f"event-{n}", "status": "published", "sequence": 1}


async def test_outbox_to_consumer_once(mysql_url, amqp_url, schema_prefix, namespace):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace)
    handlers = HandlerRegistry()
    seen: list[str] = []

    @handlers.on("catalog.event.published")
    async def remember(tx: Session, event: Event) -> None:
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), event.data["slug"]))
        tx.after_commit(lambda: seen.append(str(event.id)))

    async with (
        running_service("notification", settings, handlers=handlers, relay=False) as consumer,
        running_service("catalog", settings) as producer,
    ):
        async with producer.state.db.transaction() as tx:
            event = await publish(tx, "catalog.event.published", event_data(1), source="catalog")

        async def handled() -> bool:
            return str(event.id) in seen

        await wait_until(handled, what="the consumer to handle the event")
        db = consumer.state.db
        assert await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (str(event.id),)) == 1
        assert await db.fetch_value("SELECT COUNT(*) FROM processed_events WHERE event_id = %s", (str(event.id),)) == 1

        async def marked_sent() -> bool:  # the mark follows the confirm, a moment after delivery
            return counter_value(producer, "tdc_events_published_total", type="catalog.event.published") == 1

        await wait_until(marked_sent, what="the relay to mark the row sent")
        row = await producer.state.db.fetch_one(
            "SELECT sent_at, attempts FROM outbox WHERE event_id = %s", (str(event.id),)
        )
        assert row["sent_at"] is not None and row["attempts"] == 1

        async def counted() -> bool:  # counted after the ack, just after the commit
            return (
                counter_value(consumer, "tdc_events_handled_total", type="catalog.event.published", outcome="handled")
                == 1
            )

        await wait_until(counted, what="the consumer to count the event")
        assert await consumer.state.readiness["broker"]()
