"""Names and declarations of everything the bus owns on the broker.

`<ns>` is `settings.bus_namespace` ("tdc" in production), so a test run or a second stack can
share one broker without seeing anyone else's messages:

- `<ns>.events`: the durable topic exchange; routing key = event type.
- `<ns>.<service>`: a consuming service's durable quorum queue, bound to the event types it
  handles, with a delivery limit and dead-lettering (at least once) to ...
- `<ns>.<service>.dead`: its dead-letter queue, reached through the default exchange.

Declarations are idempotent; a queue declared earlier with other arguments is refused by the
broker (PRECONDITION_FAILED), which is what we want: never silently run with the wrong limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractMessage, AbstractQueue

# Headers the bus adds to a dead letter so an operator sees why it is there.
ERROR_HEADER = "x-tdc-error"
ATTEMPTS_HEADER = "x-tdc-attempts"
DEAD_AT_HEADER = "x-tdc-dead-at"
REPLAYS_HEADER = "x-tdc-replays"
# Set by quorum queues on redelivery: how many times the message went back to the queue.
DELIVERY_COUNT_HEADER = "x-delivery-count"


def persistent_copy(message: AbstractMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """The same event with other headers, persistent: how a dead letter is parked and replayed.

    Every property a consumer or an operator reads survives the trip (id, type, source,
    correlation id, timestamp), so a replayed event is the event that died.
    """
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        app_id=message.app_id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
    )


@dataclass(frozen=True)
class Names:
    namespace: str

    @property
    def exchange(self) -> str:
        return f"{self.namespace}.events"

    def queue(self, service: str) -> str:
        return f"{self.namespace}.{service}"

    def dead_letter_queue(self, service: str) -> str:
        return f"{self.namespace}.{service}.dead"


async def declare_exchange(channel: AbstractChannel, names: Names) -> AbstractExchange:
    return await channel.declare_exchange(names.exchange, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_dead_letter_queue(channel: AbstractChannel, names: Names, service: str) -> AbstractQueue:
    # Quorum too, so dead letters survive a node loss; no delivery limit: listing them
    # (get without ack, then requeue) must never drop one.
    return await channel.declare_queue(
        names.dead_letter_queue(service), durable=True, arguments={"x-queue-type": "quorum"}
    )


async def declare_service_queue(
    channel: AbstractChannel,
    names: Names,
    service: str,
    event_types: Iterable[str],
    *,
    delivery_limit: int,
) -> AbstractQueue:
    """The service's queue and dead-letter queue, bound to `event_types` on the exchange."""
    exchange = await declare_exchange(channel, names)
    await declare_dead_letter_queue(channel, names, service)
    queue = await channel.declare_queue(
        names.queue(service),
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            # The broker's backstop: a message whose consumer dies every time (so never gets
            # to dead-letter it itself) still leaves the queue after this many returns.
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": names.dead_letter_queue(service),
            # Quorum queues dead-letter at most once unless told otherwise; at-least-once
            # needs reject-publish overflow.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )
    for event_type in event_types:
        await queue.bind(exchange, routing_key=event_type)
    return queue
