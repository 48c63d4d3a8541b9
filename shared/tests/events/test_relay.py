"""The relay: two at once, a lower id committing late, unroutable events, prompt wake-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from tdc_shared.events import publish
from tdc_shared.events.topology import Names, declare_service_queue

from .conftest import bus_settings, counter_value, running_service, wait_until


@contextlib.asynccontextmanager
async def listening(amqp_url: str, namespace: str, event_types: list[str]):
    """A plain consumer on `<ns>.notification` that records every message id it receives."""
    received: Counter[str] = Counter()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await declare_service_queue(channel, Names(namespace), "notification", event_types, delivery_limit=5)

        async def record(message: AbstractIncomingMessage) -> None:
            received[message.message_id] += 1
            await message.ack()

        await queue.consume(record)
        yield received


async def test_two_relays_and_a_lower_id_committing_late(mysql_url, amqp_url, schema_prefix, namespace):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_relay_batch_size=5)
    async with (
        listening(amqp_url, namespace, ["catalog.event.published"]) as received,
        running_service("catalog", settings) as relay_a,
        running_service("catalog", settings) as relay_b,
    ):
        db = relay_a.state.db
        async with db.transaction() as late:
            # This row gets the lowest id but commits last.
            low = await publish(late, "catalog.event.published", {"id": 0, "slug": "late"}, source="catalog")
            others = []
            for batch in range(20):
                async with relay_b.state.db.transaction() as tx:
                    for n in range(10):
                        event = await publish(tx, "catalog.event.published", {"id": batch * 10 + n}, source="catalog")
                        others.append(str(event.id))

            async def others_received() -> bool:
                return all(received[i] for i in others)

            await wait_until(others_received, what="the 200 later rows to be published")
            assert received[str(low.id)] == 0
        low_id = await db.fetch_value("SELECT id FROM outbox WHERE event_id = %s", (str(low.id),))
        assert low_id < await db.fetch_value("SELECT MIN(id) FROM outbox WHERE event_id <> %s", (str(low.id),))

        async def low_received() -> bool:
            return received[str(low.id)] == 1

        await wait_until(low_received, what="the lower id committed late to be published")

        async def all_marked_sent() -> bool:  # the mark follows the confirm, a moment after delivery
            return await db.fetch_value("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0

        await wait_until(all_marked_sent, what="every row to be marked sent")
        assert len(received) == 201 and set(received.values()) == {1}

        def confirmed() -> float:
            return sum(
                counter_value(app, "tdc_events_published_total", type="catalog.event.published")
                for app in (relay_a, relay_b)
            )

        async def all_confirmed() -> bool:
            return confirmed() >= 201

        await wait_until(all_confirmed, what="the relays to count their confirms")
        assert confirmed() == 201  # no row confirmed twice across the two relays


async def test_unroutable_event_stays_in_the_outbox_until_a_queue_is_bound(
    mysql_url, amqp_url, schema_prefix, namespace
):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_relay_poll_seconds=0.1)
    async with running_service("catalog", settings) as producer:
        db = producer.state.db
        async with db.transaction() as tx:
            event = await publish(tx, "catalog.artist.updated", {"id": 3, "slug": "nobody-listens"}, source="catalog")

        async def refused() -> bool:
            row = await db.fetch_one("SELECT attempts, last_error FROM outbox WHERE event_id = %s", (str(event.id),))
            return row["attempts"] >= 1 and row["last_error"] is not None

        await wait_until(refused, what="the unroutable publish to be recorded as a failure")
        row = await db.fetch_one("SELECT sent_at, last_error FROM outbox WHERE event_id = %s", (str(event.id),))
        assert row["sent_at"] is None and "PublishError" in row["last_error"]
        assert counter_value(producer, "tdc_event_publish_failures_total", reason="refused") >= 1

        async with listening(amqp_url, namespace, ["catalog.artist.updated"]) as received:

            async def delivered() -> bool:
                return received[str(event.id)] == 1

            await wait_until(delivered, what="the retried row to reach the queue once bound")

        async def marked_sent() -> bool:
            row = await db.fetch_one("SELECT sent_at, last_error FROM outbox WHERE event_id = %s", (str(event.id),))
            return row["sent_at"] is not None and row["last_error"] is None

        await wait_until(marked_sent, what="the row to be marked sent, its error cleared")


async def test_a_commit_wakes_the_relay_without_waiting_for_the_poll(mysql_url, amqp_url, schema_prefix, namespace):
    # A poll far longer than the test may take: only the after-commit wake-up can deliver in time.
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_relay_poll_seconds=3600)
    async with (
        listening(amqp_url, namespace, ["catalog.event.published"]) as received,
        running_service("catalog", settings) as producer,
    ):
        await asyncio.sleep(0)
        async with producer.state.db.transaction() as tx:
            event = await publish(tx, "catalog.event.published", {"id": 1}, source="catalog")

        async def delivered() -> bool:
            return received[str(event.id)] == 1

        await wait_until(delivered, within=20, what="the woken relay to publish")
