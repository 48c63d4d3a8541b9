"""The consumer of a service's durable queue `<ns>.<service>` (shared by its replicas).

- Each event is applied in a database transaction that first inserts its id into
  `processed_events` (the inbox) and then calls the registered handlers; its message is acked
  only after that transaction committed. A duplicate (a redelivery after a crash, or two
  copies at the same moment on two replicas) finds the inbox row - the primary key makes the
  second insert wait for the first transaction, then see the row - and is acked untouched.
- Deliveries that arrive together are applied in one transaction (group commit: one COMMIT
  for the lot, which is what makes 1,000+ events/s possible here). If anything in such a
  batch fails, it is rolled back and each event is applied again on its own, so one bad
  event never holds back or fails its neighbours. Handlers must therefore keep their effects
  inside `tx` (they may run again after a rollback, like after any retry).
- Acks are coalesced (`acks.py`): a committed batch is acked with one `multiple` ack when
  every delivery below it is settled, never across a delivery waiting for its nack.
- A failing handler rolls back; the message goes back to the queue after a short pause and,
  on its last allowed attempt (`bus_max_attempts`), is republished to `<ns>.<service>.dead`
  with the error in the `x-tdc-error` header, then acked. A malformed body goes there at
  once. The queue's own `x-delivery-limit` is the backstop for a consumer that dies before it
  can dead-letter (e.g. killed on every attempt). A poison message never blocks the queue:
  the others keep flowing around it while it waits for its retry.
- While the database is unreachable a batch is held and retried (not the message's fault,
  so it uses up no attempt); the prefetch limit then stops the flow. A transaction InnoDB
  rolls back as a deadlock victim (replicas storing the same new row) is run again at once,
  up to DEADLOCK_RERUNS times, and uses up no attempt either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange
from aiormq.abc import AbstractChannel, DeliveredMessage
from mysql.connector import errors as mysql_errors
from pydantic import ValidationError

from ..db import DEADLOCK, Database, DatabaseUnavailable
from .acks import AckTracker
from .envelope import Event
from .link import BrokerLink, stop_tasks
from .metrics import BusMetrics
from .topology import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    DELIVERY_COUNT_HEADER,
    ERROR_HEADER,
    Names,
    declare_service_queue,
    persistent_copy,
)

log = logging.getLogger(__name__)

INBOX_SQL = "INSERT IGNORE INTO processed_events (event_id, event_type) VALUES (%s, %s)"
# A transaction InnoDB rolled back as a deadlock victim is run again at once, as MySQL asks,
# this many times, before it counts as a failed delivery (which waits and uses an attempt).
DEADLOCK_RERUNS = 3
T = TypeVar("T")


class SeenBefore(Exception):
    """A batch holds duplicates: it is rolled back and applied one event at a time."""


@dataclass
class Delivery:
    message: DeliveredMessage
    acks: AckTracker
    event: Event
    handlers: list[Any]
    attempt: int


def _count(value: object) -> int:
    """A delivery-count header as a number (0 when absent or not a number)."""
    return value if isinstance(value, int) else int(value) if isinstance(value, (str, bytes)) and value.isdigit() else 0


def _tag(message: DeliveredMessage) -> int:
    """A consumed delivery always has its tag; only a basic.get on an empty queue lacks one."""
    assert message.delivery_tag is not None
    return message.delivery_tag


def _lag_seconds(event: Event) -> float:
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - occurred).total_seconds())


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
        workers: int = 4,
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
        self._worker_count = max(1, min(workers, prefetch))
        self._batch_max = max(1, prefetch // self._worker_count)
        self._received: asyncio.Queue[tuple[DeliveredMessage, AckTracker]] = asyncio.Queue()
        self._acks: AckTracker | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._idle = asyncio.Event()  # nothing received and unsettled
        self._idle.set()
        self._dead_exchange: AbstractExchange | None = None
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._stopping = False
        link.add_user(self)

    @property
    def queue_name(self) -> str:
        return self._names.queue(self._service)

    async def on_connect(self, connection: AbstractConnection) -> None:
        channel = await connection.channel()
        self._link.watch_channel(channel)
        await channel.set_qos(prefetch_count=self._prefetch)
        underlay = await channel.get_underlay_channel()
        self._acks = AckTracker(underlay)
        dead_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._link.watch_channel(dead_channel)
        self._dead_exchange = dead_channel.default_exchange
        queue = await declare_service_queue(
            channel, self._names, self._service, self._handlers.event_types, delivery_limit=self._max_attempts
        )
        self._channel = underlay
        if not self._stopping:
            # On the protocol channel rather than `queue.consume`: aio-pika wraps each delivery
            # in an IncomingMessage and a second task, a fifth of the consumer's CPU per event.
            consumed = await underlay.basic_consume(queue.name, self._receive)
            self._consumer_tag = consumed.consumer_tag

    def on_disconnect(self) -> None:
        self._channel = None
        self._consumer_tag = None
        self._dead_exchange = None
        if self._acks is not None:
            self._acks.forget()
            self._acks = None
        # Unacked deliveries of the lost channel are redelivered by the broker; drop our copies.
        while not self._received.empty():
            self._received.get_nowait()
        self._settle_idle()

    def start(self) -> None:
        for n in range(self._worker_count):
            self._workers.append(asyncio.create_task(self._work(), name=f"bus-consumer-{self._service}-{n}"))

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new deliveries, and let those received commit and ack (within `grace`)."""
        self._stopping = True
        channel, tag = self._channel, self._consumer_tag
        if channel is not None and tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.basic_cancel(tag), 5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        await stop_tasks([*self._workers, *self._retries], f"consumer of {self.queue_name}")
        self._workers.clear()

    async def _receive(self, message: DeliveredMessage) -> None:
        acks = self._acks
        if acks is None:
            return  # from a channel already given up: the broker redelivers it
        self._idle.clear()
        acks.received(_tag(message))
        self._received.put_nowait((message, acks))

    def _settle_idle(self) -> None:
        if not self._busy and self._received.empty():
            self._idle.set()

    async def _work(self) -> None:
        while True:
            batch = [await self._received.get()]
            while len(batch) < self._batch_max and not self._received.empty():
                batch.append(self._received.get_nowait())
            self._busy += 1
            try:
                await self._handle(batch)
            except Exception:
                # Nothing acked them: the broker redelivers them when the channel closes.
                # Parked, so that the acks of later deliveries do not wait for them.
                log.exception("unexpected failure handling deliveries on %s", self.queue_name)
                for message, acks in batch:
                    acks.park(_tag(message))
            finally:
                self._busy -= 1
                self._settle_idle()

    async def _handle(self, batch: list[tuple[DeliveredMessage, AckTracker]]) -> None:
        deliveries: list[Delivery] = []
        for message, acks in batch:
            properties = message.header.properties
            attempt = _count((properties.headers or {}).get(DELIVERY_COUNT_HEADER)) + 1
            try:
                event = Event.from_json(message.body)
            except (ValidationError, ValueError) as exc:
                self._metrics.handled.labels(properties.message_type or "unknown", "dead_lettered").inc()
                await self._dead_letter(message, acks, f"malformed message: {exc}", attempt)
                continue
            handlers = self._handlers.handlers_for(event.type)
            if not handlers:
                # Only a stale binding routes a type we no longer handle here.
                log.warning("no handler for %s on %s; acked and ignored", event.type, self.queue_name)
                self._metrics.handled.labels(event.type, "ignored").inc()
                with contextlib.suppress(Exception):
                    await acks.done([_tag(message)])
                continue
            deliveries.append(Delivery(message, acks, event, handlers, attempt))
        if len(deliveries) > 1:
            try:
                outcomes = await self._until_database_answers(lambda: self._apply(deliveries))
            except SeenBefore as exc:
                log.debug("%s; applying the batch one by one", exc)
            except Exception as exc:
                log.info("a batch of %d failed (%s); applying its events one by one", len(deliveries), exc)
            else:
                if outcomes is not None:
                    self._metrics.batch_size.observe(len(deliveries))
                    await self._settled(deliveries, outcomes)
                return
        for delivery in deliveries:
            await self._handle_one(delivery)

    async def _handle_one(self, delivery: Delivery) -> None:
        event, attempt = delivery.event, delivery.attempt
        try:
            outcomes = await self._until_database_answers(lambda: self._apply([delivery]))
        except Exception as exc:
            log.exception("handler failed for %s %s (attempt %d/%d)", event.type, event.id, attempt, self._max_attempts)
            if attempt >= self._max_attempts:
                self._metrics.handled.labels(event.type, "dead_lettered").inc()
                await self._dead_letter(delivery.message, delivery.acks, f"{type(exc).__name__}: {exc}", attempt)
            else:
                self._metrics.handled.labels(event.type, "retried").inc()
                self._retry_later(delivery.message, delivery.acks, self._retry_delay * attempt)
            return
        if outcomes is not None:
            self._metrics.batch_size.observe(1)
            await self._settled([delivery], outcomes)

    async def _settled(self, deliveries: list[Delivery], outcomes: list[str]) -> None:
        for delivery, outcome in zip(deliveries, outcomes, strict=True):
            self._metrics.handled.labels(delivery.event.type, outcome).inc()
            if outcome == "handled":
                self._metrics.consumer_lag.observe(_lag_seconds(delivery.event))
        with contextlib.suppress(Exception):
            # If the channel is gone the broker redelivers them, and the inbox absorbs that.
            await deliveries[0].acks.done([_tag(d.message) for d in deliveries])

    def _retry_later(self, message: DeliveredMessage, acks: AckTracker, delay: float) -> None:
        """Back to the queue after `delay`, without holding a worker meanwhile."""
        acks.park(_tag(message))

        async def nack() -> None:
            await asyncio.sleep(delay)
            with contextlib.suppress(Exception):
                await acks.settle(_tag(message), lambda: _requeue(message))

        task = asyncio.create_task(nack())
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _until_database_answers(self, apply: Callable[[], Awaitable[T]]) -> T | None:
        """`apply()`, again while the database is unreachable, and again at once after a deadlock.

        Replicas applying events that touch the same rows (the first store of an event two
        consumers both see) meet deadlocks; nothing was applied, so running it again is safe."""
        delay = 0.1
        deadlocks = 0
        while True:
            try:
                return await apply()
            except DatabaseUnavailable as exc:
                if self._stopping:
                    return None  # unacked: the broker redelivers it to whoever runs next
                log.warning("database unavailable on %s, retrying in %.1fs: %s", self.queue_name, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except mysql_errors.DatabaseError as exc:
                if exc.errno != DEADLOCK or deadlocks >= DEADLOCK_RERUNS:
                    raise
                deadlocks += 1
                log.info("deadlock on %s, applying again (%d)", self.queue_name, deadlocks)
                await asyncio.sleep(0.02 * deadlocks)

    async def _apply(self, deliveries: list[Delivery]) -> list[str]:
        if len(deliveries) > 1:
            return await self._apply_fresh_batch(deliveries)
        outcomes: list[str] = []
        async with self._db.transaction() as tx:
            for delivery in deliveries:
                event = delivery.event
                if not await tx.execute(INBOX_SQL, (str(event.id), event.type)):
                    outcomes.append("duplicate")
                    continue
                for handler in delivery.handlers:
                    await handler(tx, event)
                outcomes.append("handled")
        return outcomes

    async def _apply_fresh_batch(self, deliveries: list[Delivery]) -> list[str]:
        """The common case in one go: one inbox INSERT for the lot, then the handlers. A batch
        holding any event already processed (or the same event twice) is undone and sorted
        out one by one."""
        rows = ", ".join(["(%s, %s)"] * len(deliveries))
        params = [value for d in deliveries for value in (str(d.event.id), d.event.type)]
        async with self._db.transaction() as tx:
            inserted = await tx.execute(
                f"INSERT IGNORE INTO processed_events (event_id, event_type) VALUES {rows}",  # noqa: S608 - (%s, %s) groups
                params,
            )
            if inserted != len(deliveries):
                raise SeenBefore(f"{len(deliveries) - inserted} event(s) of the batch were already processed")
            for delivery in deliveries:
                for handler in delivery.handlers:
                    await handler(tx, delivery.event)
        return ["handled"] * len(deliveries)

    async def _dead_letter(self, message: DeliveredMessage, acks: AckTracker, error: str, attempt: int) -> None:
        acks.park(_tag(message))  # the acks of the deliveries after it need not wait
        properties = message.header.properties
        headers = {k: v for k, v in (properties.headers or {}).items() if k != DELIVERY_COUNT_HEADER}
        headers.update(
            {ERROR_HEADER: error[:2000], ATTEMPTS_HEADER: attempt, DEAD_AT_HEADER: datetime.now(UTC).isoformat()}
        )
        # Read through aio-pika's message only here, on the rare path, to share the copy with replay.
        dead = persistent_copy(aio_pika.IncomingMessage(message, no_ack=True), headers)
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
            log.exception("could not dead-letter %s; returning it to the queue", properties.message_id)
            with contextlib.suppress(Exception):
                await acks.settle(_tag(message), lambda: _requeue(message))
            return
        self._metrics.dead_lettered.inc()
        self._metrics.dead_letters.inc()
        log.error(
            "dead-lettered %s (%s) after %d attempt(s): %s",
            properties.message_id,
            properties.message_type,
            attempt,
            error,
        )
        with contextlib.suppress(Exception):
            await acks.settle(_tag(message), lambda: message.channel.basic_ack(_tag(message)))


async def _requeue(message: DeliveredMessage) -> None:
    await message.channel.basic_nack(_tag(message), requeue=True)
