"""Consumers: the service's durable queue (with inbox and dead letters) and broadcasts.

Service queue `<ns>.<service>` (one per consuming service, shared by its replicas):
- each delivery runs in one database transaction that first inserts the event id into
  `processed_events` and then calls the registered handlers; the message is acked only after
  that transaction committed. A duplicate (redelivery after a crash, or two copies at the
  same moment on two replicas) finds the inbox row - the primary key makes the second insert
  wait for the first transaction and then see the row - and is acked without acting;
- a failing handler rolls back; the message goes back to the queue after a short pause and,
  on its last allowed attempt (`bus_max_attempts`), is republished to `<ns>.<service>.dead`
  with the error in the `x-tdc-error` header, then acked. A malformed body goes there at
  once. The queue's own `x-delivery-limit` is the backstop for a consumer that dies before it
  can dead-letter (e.g. killed on every attempt);
- while the database is unreachable a delivery is held and retried (it is not the message's
  fault, so it uses up no attempt); the prefetch limit then stops the flow.

Broadcast (`broadcast=` registry): each process gets its own exclusive, auto-delete queue
bound to the registry's event types, so every replica sees every such event (e.g. to drop
an in-process cache). Handlers take only the event and run outside any transaction; there is
no inbox and no retry (a failure is logged and the message acked). Messages published while
the process was disconnected are not seen: a registry may declare `on_resync` callbacks, run
after every (re)connection, to rebuild whatever the missed events would have invalidated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from pydantic import ValidationError

from ..db import Database, DatabaseUnavailable
from .envelope import Event
from .link import BrokerLink
from .metrics import BusMetrics
from .topology import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    DELIVERY_COUNT_HEADER,
    ERROR_HEADER,
    Names,
    declare_exchange,
    declare_service_queue,
)

log = logging.getLogger(__name__)

INBOX_SQL = "INSERT IGNORE INTO processed_events (event_id, event_type) VALUES (%s, %s)"


def _lag_seconds(event: Event) -> float:
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - occurred).total_seconds())


class _Deliveries:
    """Tracks in-flight deliveries so a shutdown can let them finish before closing."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def enter(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)

    def leave(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.discard(task)

    async def drain(self, grace: float) -> None:
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)


class ServiceConsumer:
    def __init__(
        self,
        db: Database,
        link: BrokerLink,
        names: Names,
        *,
        service: str,
        handlers: Any,
        metrics: BusMetrics,
        prefetch: int = 16,
        max_attempts: int = 5,
        retry_delay: float = 0.2,
        publish_timeout: float = 10.0,
    ) -> None:
        self._db = db
        self._link = link
        self._names = names
        self._service = service
        self._handlers = handlers
        self._metrics = metrics
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._publish_timeout = publish_timeout
        self._dead_exchange: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._deliveries = _Deliveries()
        self._stopping = False
        link.add_user(self)

    @property
    def queue_name(self) -> str:
        return self._names.queue(self._service)

    async def on_connect(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        self._link.watch_channel(channel)
        await channel.set_qos(prefetch_count=self._prefetch)
        dead_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._link.watch_channel(dead_channel)
        self._dead_exchange = dead_channel.default_exchange
        self._queue = await declare_service_queue(
            channel, self._names, self._service, self._handlers.event_types, delivery_limit=self._max_attempts
        )
        if not self._stopping:
            self._consumer_tag = await self._queue.consume(self._on_message)

    def on_disconnect(self) -> None:
        self._queue = None
        self._consumer_tag = None
        self._dead_exchange = None

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new deliveries, and let those in flight commit and ack."""
        self._stopping = True
        queue, tag = self._queue, self._consumer_tag
        if queue is not None and tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(tag), 5)
        await self._deliveries.drain(grace)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._deliveries.enter()
        try:
            await self._deliver(message)
        except Exception:
            # Nothing acked it: the broker redelivers when the channel closes.
            log.exception("unexpected failure handling a delivery on %s", self.queue_name)
        finally:
            self._deliveries.leave()

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        attempt = int((message.headers or {}).get(DELIVERY_COUNT_HEADER) or 0) + 1
        try:
            event = Event.from_json(message.body)
        except (ValidationError, ValueError) as exc:
            self._metrics.handled.labels(message.type or "unknown", "dead_lettered").inc()
            await self._dead_letter(message, f"malformed message: {exc}", attempt)
            return
        handlers = self._handlers.handlers_for(event.type)
        if not handlers:
            # Only a stale binding routes a type we no longer handle here.
            log.warning("no handler for %s on %s; acked and ignored", event.type, self.queue_name)
            self._metrics.handled.labels(event.type, "ignored").inc()
            await message.ack()
            return
        try:
            outcome = await self._apply_until_database_answers(event, handlers)
        except Exception as exc:
            log.exception("handler failed for %s %s (attempt %d/%d)", event.type, event.id, attempt, self._max_attempts)
            if attempt >= self._max_attempts:
                self._metrics.handled.labels(event.type, "dead_lettered").inc()
                await self._dead_letter(message, f"{type(exc).__name__}: {exc}", attempt)
            else:
                self._metrics.handled.labels(event.type, "retried").inc()
                await asyncio.sleep(self._retry_delay * attempt)
                await message.nack(requeue=True)
            return
        if outcome is None:
            return  # stopping while the database is away: the broker redelivers it
        self._metrics.handled.labels(event.type, outcome).inc()
        await message.ack()

    async def _apply_until_database_answers(self, event: Event, handlers: list[Any]) -> str | None:
        delay = 0.1
        while True:
            try:
                return await self._apply(event, handlers)
            except DatabaseUnavailable as exc:
                if self._stopping:
                    return None
                log.warning("database unavailable while handling %s, retrying in %.1fs: %s", event.id, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _apply(self, event: Event, handlers: list[Any]) -> str:
        async with self._db.transaction() as tx:
            if not await tx.execute(INBOX_SQL, (str(event.id), event.type)):
                return "duplicate"
            for handler in handlers:
                await handler(tx, event)
        self._metrics.consumer_lag.observe(_lag_seconds(event))
        return "handled"

    async def _dead_letter(self, message: AbstractIncomingMessage, error: str, attempt: int) -> None:
        headers = {k: v for k, v in (message.headers or {}).items() if k != DELIVERY_COUNT_HEADER}
        headers.update(
            {
                ERROR_HEADER: error[:2000],
                ATTEMPTS_HEADER: attempt,
                DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
            }
        )
        dead = aio_pika.Message(
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
        exchange = self._dead_exchange
        try:
            if exchange is None:
                raise RuntimeError("no channel to the dead-letter queue")
            await exchange.publish(
                dead,
                routing_key=self._names.dead_letter_queue(self._service),
                mandatory=True,
                timeout=self._publish_timeout,
            )
        except Exception:
            # The queue's delivery limit dead-letters it later if this keeps failing.
            log.exception("could not dead-letter %s; returning it to the queue", message.message_id)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        self._metrics.dead_lettered.inc()
        self._metrics.dead_letters.inc()
        log.error("dead-lettered %s (%s) after %d attempt(s): %s", message.message_id, message.type, attempt, error)
        await message.ack()


class BroadcastConsumer:
    def __init__(self, link: BrokerLink, names: Names, *, service: str, handlers: Any, metrics: BusMetrics) -> None:
        self._link = link
        self._names = names
        self._service = service
        self._handlers = handlers
        self._metrics = metrics
        self._deliveries = _Deliveries()
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
        await self._deliveries.drain(grace)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._deliveries.enter()
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
            self._deliveries.leave()
