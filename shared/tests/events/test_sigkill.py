"""A consumer killed (SIGKILL) after its commit and before its ack: redelivered, applied once."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aio_pika

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry, publish
from tdc_shared.events.topology import Names, declare_service_queue

from .conftest import bus_settings, counter_value, running_service, wait_until

SCRIPT = Path(__file__).parent / "sigkill_consumer.py"


async def test_killed_before_ack_is_redelivered_and_applied_once(mysql_url, amqp_url, schema_prefix, namespace):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace)
    # The consumer's queue exists before the event is published (it would be retried anyway).
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare_service_queue(
            channel,
            Names(namespace),
            "notification",
            ["catalog.event.published"],
            delivery_limit=settings.bus_max_attempts,
        )

    async with running_service("catalog", settings) as producer:
        async with producer.state.db.transaction() as tx:
            event = await publish(tx, "catalog.event.published", {"id": 1, "slug": "once"}, source="catalog")

        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), mysql_url, amqp_url, schema_prefix, namespace
        )
        async with asyncio.timeout(60):
            returncode = await process.wait()
        assert returncode == -signal.SIGKILL

    handlers = HandlerRegistry()

    @handlers.on("catalog.event.published")
    async def apply(tx: Session, event: Event) -> None:
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), "second consumer"))

    async with running_service("notification", settings, handlers=handlers, relay=False) as consumer:
        db = consumer.state.db

        async def redelivered() -> bool:
            return counter_value(consumer, "tdc_events_handled_total", type=event.type, outcome="duplicate") == 1

        await wait_until(redelivered, what="the redelivery to be recognised as a duplicate")
        rows = await db.fetch_all("SELECT note FROM effects WHERE event_id = %s", (str(event.id),))
        assert [r["note"] for r in rows] == ["killed consumer"]
        assert counter_value(consumer, "tdc_events_handled_total", type=event.type, outcome="handled") == 0
