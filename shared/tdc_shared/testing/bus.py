"""Leave nothing on a shared broker: delete a test namespace's durable topology afterwards.

Every test run declares its services' queues under a namespace of its own (`Names`), durable
quorum queues that outlive the run. Left behind, a few hundred of them hold the broker's file
handles (about three each after a restart) until it stops accepting connections.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import aio_pika

from tdc_shared.events.topology import Names


async def delete_namespace(amqp_url: str, namespace: str, services: Iterable[str]) -> None:
    """Delete each service's queue and dead-letter queue of `namespace`, then its exchange.
    Names never declared are passed over (the broker closes the channel: a new one per name)."""
    names = Names(namespace)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for service in services:
            for queue in (names.queue(service), names.dead_letter_queue(service)):
                channel = await connection.channel()
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await channel.queue_delete(queue)
                if not channel.is_closed:
                    await channel.close()
        channel = await connection.channel()
        with contextlib.suppress(aio_pika.exceptions.AMQPError):
            await channel.exchange_delete(names.exchange)
