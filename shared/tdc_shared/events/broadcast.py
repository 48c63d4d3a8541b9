"""Broadcast consumer: every replica of a service runs these handlers for every such event.

Each process declares its own exclusive, auto-delete queue (`<ns>.<service>.broadcast.<random>`)
bound to the registry's event types, so every replica sees every event, e.g. to drop an
in-process cache. Handlers take only the event and run outside any transaction; there is no
inbox and no retry (a failure is logged, counted and the message acked). Messages published
while the process was disconnected are not seen: a registry's `resync_callbacks` (see
`BroadcastRegistry.on_resync`) run after every (re)connection, to rebuild whatever the missed
events would have invalidated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractQueue
from pydantic import ValidationError

from .envelope import Event
from .link import BrokerLink
from .metrics import BusMetrics
from .topology import Names, declare_exchange

log = logging.getLogger(__name__)


class BroadcastConsumer:
    def __init__(self, link: BrokerLink, names: Names, *, service: str, handlers: Any, metrics: BusMetrics) -> None:
        self._link = link
        self._names = names
        self._service = service
        self._handlers = handlers
        self._metrics = metrics
        self._inflight: set[asyncio.Task[Any]] = set()
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        link.add_user(self)

    async def on_connect(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        self._link.watch_channel(channel)
        await channel.set_qos(prefetch_count=32)
        exchange = await declare_exchange(channel, self._names)
        queue = await channel.declare_queue(
            f"{self._names.queue(self._service)}.broadcast.{uuid.uuid4().hex[:12]}",
            exclusive=True,
            auto_delete=True,
            durable=False,
        )
        for event_type in self._handlers.event_types:
            await queue.bind(exchange, routing_key=event_type)
        for resync in getattr(self._handlers, "resync_callbacks", ()):
            try:
                await resync()
            except Exception:
                log.exception("broadcast resync callback failed")
        self._queue = queue
        self._consumer_tag = await queue.consume(self._on_message)

    def on_disconnect(self) -> None:
        self._queue = None
        self._consumer_tag = None

    async def stop(self, grace: float = 10.0) -> None:
        queue, tag = self._queue, self._consumer_tag
        if queue is not None and tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(tag), 5)
        pending = [t for t in self._inflight if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            try:
                event = Event.from_json(message.body)
            except (ValidationError, ValueError) as exc:
                log.error("malformed broadcast message %s dropped: %s", message.message_id, exc)
                await message.ack()
                return
            outcome = "broadcast"
            for handler in self._handlers.handlers_for(event.type):
                try:
                    await handler(event)
                except Exception:
                    outcome = "failed"
                    log.exception("broadcast handler failed for %s %s", event.type, event.id)
            self._metrics.handled.labels(event.type, outcome).inc()
            await message.ack()
        except Exception:
            log.exception("unexpected failure handling a broadcast")
        finally:
            if task is not None:
                self._inflight.discard(task)
