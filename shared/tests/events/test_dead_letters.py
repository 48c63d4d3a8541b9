"""A handler that always fails: dead letter after the limit, the queue keeps flowing, replay applies once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime

import aio_pika

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry, publish
from tdc_shared.events.admin import list_dead_letters, replay_dead_letters
from tdc_shared.events.topology import ERROR_HEADER, Names, declare_service_queue, persistent_copy

from .conftest import bus_settings, counter_value, running_service, wait_until


async def run_admin(amqp_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tdc_shared.events.admin",
        *args,
        env={**os.environ, "TDC_AMQP_URL": amqp_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_poison_goes_to_dead_letters_and_replays_once(mysql_url, amqp_url, schema_prefix, namespace):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace, bus_max_attempts=3)
    handlers = HandlerRegistry()
    broken = True
    attempts: list[str] = []

    @handlers.on("catalog.event.published")
    async def apply(tx: Session, event: Event) -> None:
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), event.data["slug"]))
        if event.data["slug"] == "poison":
            attempts.append(str(event.id))
            if broken:
                raise RuntimeError("the handler cannot cope with this event")

    async with (
        running_service("notification", settings, handlers=handlers, relay=False) as consumer,
        running_service("catalog", settings) as producer,
    ):
        db = consumer.state.db
        async with producer.state.db.transaction() as tx:
            poison = await publish(tx, "catalog.event.published", {"id": 0, "slug": "poison"}, source="catalog")
        async with producer.state.db.transaction() as tx:
            for n in range(1, 21):
                await publish(tx, "catalog.event.published", {"id": n, "slug": f"good-{n}"}, source="catalog")

        async def settled() -> bool:
            good = await db.fetch_value("SELECT COUNT(*) FROM effects WHERE note LIKE 'good-%%'")
            return good == 20 and counter_value(consumer, "tdc_events_dead_lettered_total") == 1

        await wait_until(settled, what="the good events to flow past the poison one into the dead letters")
        # Bounded: 3 deliveries (2 retries, then the dead letter); a delivery that arrived with
        # others is first tried in their group transaction, hence up to 2 handler calls each.
        assert counter_value(consumer, "tdc_events_handled_total", type=poison.type, outcome="retried") == 2
        assert 3 <= len(attempts) <= 6 and set(attempts) == {str(poison.id)}
        assert await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (str(poison.id),)) == 0
        assert await db.fetch_value("SELECT COUNT(*) FROM processed_events WHERE event_id = %s", (str(poison.id),)) == 0

        # A body that is not an event goes to the dead letters at once, without a retry.
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(Names(namespace).exchange)
            await exchange.publish(
                aio_pika.Message(b"{not json", message_id="garbage-1", type="catalog.event.published"),
                routing_key="catalog.event.published",
            )

        async def garbage_dead() -> bool:
            return counter_value(consumer, "tdc_events_dead_lettered_total") == 2

        await wait_until(garbage_dead, what="the malformed message to be dead-lettered")

        letters = {letter.event_id: letter for letter in await list_dead_letters(amqp_url, namespace, "notification")}
        assert set(letters) == {str(poison.id), "garbage-1"}
        assert letters[str(poison.id)].attempts == 3
        assert letters[str(poison.id)].type == "catalog.event.published"
        assert "RuntimeError: the handler cannot cope" in letters[str(poison.id)].error
        assert letters["garbage-1"].attempts == 1 and letters["garbage-1"].error.startswith("malformed message")

        # The operator's view, as `make dead-letters SERVICE=notification` prints it.
        code, out, _ = await run_admin(
            amqp_url, "list", "--service", "notification", "--namespace", namespace, "--json"
        )
        assert code == 0
        listed = [json.loads(line) for line in out.splitlines()]
        assert {item["event_id"] for item in listed} == {str(poison.id), "garbage-1"}  # listing removed nothing

        broken = False  # the handler is fixed and deployed
        replayed = await replay_dead_letters(amqp_url, namespace, "notification", event_ids=[str(poison.id)])
        assert [letter.event_id for letter in replayed] == [str(poison.id)]

        async def poison_applied() -> bool:
            return await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (str(poison.id),)) == 1

        await wait_until(poison_applied, what="the replayed event to be applied")
        # `make replay-dead-letters SERVICE=notification`: the garbage is replayed too, and dies again.
        code, out, err = await run_admin(amqp_url, "replay", "--service", "notification", "--namespace", namespace)
        assert code == 0 and "garbage-1" in out and "1 replayed into notification" in err

        async def garbage_back() -> bool:
            return counter_value(consumer, "tdc_events_dead_lettered_total") == 3

        await wait_until(garbage_back, what="the replayed garbage to return to the dead letters")
        remaining = await list_dead_letters(amqp_url, namespace, "notification")
        assert [(letter.event_id, letter.replays) for letter in remaining] == [("garbage-1", 1)]
        assert await db.fetch_value("SELECT COUNT(*) FROM effects WHERE event_id = %s", (str(poison.id),)) == 1


async def test_admin_refuses_an_unknown_service(amqp_url, namespace):
    code, out, err = await run_admin(amqp_url, "list", "--service", "nosuchservice", "--namespace", namespace)
    assert code == 2 and out == ""
    assert f"no queue {namespace}.nosuchservice.dead" in err


async def test_broker_dead_letters_what_no_consumer_could(amqp_url, namespace):
    """The queue's delivery limit: a message returned again and again (say its consumer is
    killed every time) reaches the dead-letter queue without any consumer's help."""
    names = Names(namespace)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await declare_service_queue(
            channel, names, "notification", ["catalog.event.published"], delivery_limit=2
        )
        exchange = await channel.get_exchange(names.exchange)
        await exchange.publish(
            aio_pika.Message(b"{}", message_id="returned-forever", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="catalog.event.published",
        )
        deliveries = 0
        for _ in range(10):
            message = await queue.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                break
            deliveries += 1
            await message.nack(requeue=True)
        assert deliveries == 3  # the first delivery and two returns; the third return dead-letters it

        async def dead() -> bool:
            return (await list_dead_letters(amqp_url, namespace, "notification")) != []

        await wait_until(dead, what="the broker to dead-letter the message")
        (letter,) = await list_dead_letters(amqp_url, namespace, "notification")
        assert letter.event_id == "returned-forever"
        assert letter.error.startswith("dead-lettered by the broker: ")


def test_a_dead_letter_copy_keeps_what_consumers_and_operators_read():
    sent_at = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
    original = aio_pika.Message(
        b'{"id": "e-1"}',
        content_type="application/json",
        message_id="e-1",
        type="catalog.event.published",
        app_id="catalog",
        correlation_id="req-7",
        timestamp=sent_at,
        headers={"x-delivery-count": 2},
    )
    copy = persistent_copy(original, {ERROR_HEADER: "boom"})
    assert copy.body == original.body and copy.headers == {ERROR_HEADER: "boom"}
    assert copy.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    kept = ("content_type", "message_id", "type", "app_id", "correlation_id", "timestamp")
    assert {name: getattr(copy, name) for name in kept} == {name: getattr(original, name) for name in kept}
