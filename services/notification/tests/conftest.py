"""Each test gets the notification app on a fresh schema and bus namespace, and a real SMTP sink."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from notification_testkit import Service, make_settings, running_service
from smtp_servers import SmtpServer

from tdc_notification.clock import Clock
from tdc_shared.events.topology import Names


@pytest.fixture
def sink() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def service(mysql_url, amqp_url, db_prefix, signing_key, sink) -> AsyncIterator[Service]:
    suffix = uuid.uuid4().hex[:6]
    settings = make_settings(mysql_url, amqp_url, f"{db_prefix}{suffix}_", f"tnot{suffix}", sink.url)
    try:
        async with running_service(settings, signing_key, Clock()) as running:
            yield running
    finally:
        await _delete_topology(amqp_url, settings.bus_namespace)


async def _delete_topology(amqp_url: str, namespace: str) -> None:
    names = Names(namespace)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for queue in (names.queue("notification"), names.dead_letter_queue("notification")):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(names.exchange)
