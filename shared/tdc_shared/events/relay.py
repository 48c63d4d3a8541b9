"""The outbox relay: sends committed outbox rows to the exchange, then marks them sent.

Each pass claims the lowest unsent ids with `SELECT ... FOR UPDATE SKIP LOCKED` (READ
COMMITTED, so the claim takes no gap locks that would stall the business transactions
inserting new rows). Several relays (replicas, or two in one process) therefore never send the
same row in the same claim; a row still being inserted by an open transaction is locked and
simply skipped until it commits. There is no "last sent id" high-water mark: ids are assigned
at insert, not at commit, so a lower id can commit after a higher one was sent, and the next
claim still finds it.

Rows are published as persistent messages on a confirm channel with `mandatory` and
`on_return_raises`, so an unroutable event (no queue bound for it yet) is a failure, not a
silent drop; a row is marked sent only after the broker confirmed it. A refused row waits
(per-row exponential backoff in `next_attempt_at`) without holding back the rows after it.
If the broker goes away the relay waits for the link to come back; rows it could not
confirm stay unsent and are sent again (consumers drop duplicates through their inbox).

Commits wake the relay at once (`publish` -> `tx.after_commit(wake_relays)`); a short
fallback poll catches rows committed by other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractConnection, AbstractExchange
from aiormq.abc import AbstractChannel
from aiormq.exceptions import DeliveryError
from pamqp.commands import Basic

from ..db import Database, DatabaseUnavailable
from .link import BrokerLink
from .metrics import BusMetrics
from .topology import Names, declare_exchange

log = logging.getLogger(__name__)

_relays: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()

CLAIM_SQL = (
    "SELECT id, event_id, event_type, payload, attempts FROM outbox"
    " WHERE sent_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= UTC_TIMESTAMP(6))"
    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
)
BACKLOG_EVERY_SECONDS = 1.0


def wake_relays() -> None:
    """Called after a commit that wrote outbox rows: every relay in this process looks now."""
    for relay in list(_relays):
        relay.wake()


class BrokerGone(Exception):
    """The connection or channel failed under a publish: wait for the link, then retry."""


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        link: BrokerLink,
        names: Names,
        *,
        source: str,
        metrics: BusMetrics,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        retry_max_seconds: float = 60.0,
        publish_timeout: float = 10.0,
    ) -> None:
        self._db = db
        self._link = link
        self._names = names
        self._source = source
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retry_max_seconds = retry_max_seconds
        self._publish_timeout = publish_timeout
        self._wakeup = asyncio.Event()
        self.stopping = False
        self._exchange: AbstractExchange | None = None
        self._backlog_at = 0.0
        link.add_user(self)

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        """Finish the pass in progress (its rows get marked), then leave the loop."""
        self.stopping = True
        self.wake()

    async def on_connect(self, connection: AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._link.watch_channel(channel)
        self._exchange = await declare_exchange(channel, self._names)
        self.wake()

    def on_disconnect(self) -> None:
        self._exchange = None

    async def run(self) -> None:
        _relays.add(self)
        db_delay = 0.1
        try:
            while not self.stopping:
                await self._link.ready.wait()
                exchange = self._exchange
                if exchange is None:
                    await asyncio.sleep(0.05)
                    continue
                self._wakeup.clear()
                try:
                    claimed = await self.relay_once(exchange)
                    db_delay = 0.1
                except BrokerGone as exc:
                    log.warning("relay paused: broker connection failed under a publish: %s", exc)
                    # The link notices the closed connection and reconnects; do not spin meanwhile.
                    await asyncio.sleep(0.1)
                    continue
                except DatabaseUnavailable as exc:
                    log.warning("relay paused: %s", exc)
                    await asyncio.sleep(db_delay)
                    db_delay = min(db_delay * 2, 5.0)
                    continue
                except Exception:
                    # A bug or a schema problem (e.g. the outbox migration missing): keep the
                    # task alive and loud rather than silently stop relaying.
                    log.exception("relay pass failed")
                    await asyncio.sleep(db_delay)
                    db_delay = min(db_delay * 2, 30.0)
                    continue
                await self._refresh_backlog()
                if claimed >= self._batch_size:
                    continue
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the event, and the relay would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_seconds):
                        await self._wakeup.wait()
        finally:
            _relays.discard(self)

    async def relay_once(self, exchange: AbstractExchange) -> int:
        """Claim, publish and mark one batch; returns how many rows were claimed."""
        async with self._db.transaction() as tx:
            # Applies to the next transaction only (it starts with the claim below).
            await tx.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            rows = await tx.fetch_all(CLAIM_SQL, (self._batch_size,))
            if not rows:
                return 0
            channel = await exchange.channel.get_underlay_channel()  # type: ignore[attr-defined]  # aio-pika's Exchange has it; its ABC does not
            results = await asyncio.gather(
                *(self._send(channel, exchange.name, row) for row in rows), return_exceptions=True
            )
            sent = [row["id"] for row, result in zip(rows, results, strict=True) if result is None]
            if sent:
                placeholders = ", ".join(["%s"] * len(sent))
                await tx.execute(
                    "UPDATE outbox SET sent_at = UTC_TIMESTAMP(6), attempts = attempts + 1,"  # noqa: S608 - %s marks only; values are parameters
                    f" last_error = NULL, next_attempt_at = NULL WHERE id IN ({placeholders})",
                    sent,
                )
            broker_failure: BaseException | None = None
            for row, result in zip(rows, results, strict=True):
                if result is None:
                    continue
                if isinstance(result, asyncio.CancelledError):
                    raise result
                refused = isinstance(result, DeliveryError)
                if not refused:
                    broker_failure = broker_failure or result
                await self._record_failure(tx, row, result, backoff=refused)
        for row, result in zip(rows, results, strict=True):
            if result is None:
                self._metrics.published.labels(row["event_type"]).inc()
        if broker_failure is not None:
            raise BrokerGone(str(broker_failure) or type(broker_failure).__name__)
        return len(rows)

    async def _send(self, channel: AbstractChannel, exchange: str, row: dict[str, Any]) -> None:
        # Straight to the protocol channel that aio-pika's `Exchange.publish` also ends in: an
        # aio_pika.Message per row cost more CPU than the rest of the publish. The channel was
        # opened with confirms and on_return_raises, so a nack raises DeliveryError and an
        # unroutable return raises PublishError (a DeliveryError).
        payload = row["payload"]
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=2,  # persistent
            message_id=row["event_id"],
            message_type=row["event_type"],
            app_id=self._source,
            timestamp=datetime.now(UTC),
        )
        started = time.perf_counter()
        await channel.basic_publish(  # type: ignore[call-arg]  # aiormq's Channel takes wait=; its ABC does not
            payload.encode() if isinstance(payload, str) else bytes(payload),
            exchange=exchange,
            routing_key=row["event_type"],
            properties=properties,
            mandatory=True,
            timeout=self._publish_timeout,
            wait=False,  # the confirm is what counts, not the socket write
        )
        self._metrics.publish_latency.observe(time.perf_counter() - started)

    async def _record_failure(self, tx: Any, row: dict[str, Any], error: BaseException, *, backoff: bool) -> None:
        reason = "refused" if backoff else "broker"
        self._metrics.publish_failures.labels(reason).inc()
        text = f"{type(error).__name__}: {error}"[:1000]
        if backoff:
            delay = min(self._retry_max_seconds, 0.5 * 2 ** min(row["attempts"], 20))
            log.warning(
                "broker refused outbox row %s (%s), retrying in %.1fs: %s", row["id"], row["event_type"], delay, text
            )
            await tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
                " next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND WHERE id = %s",
                (text, int(delay * 1_000_000), row["id"]),
            )
        else:
            await tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE id = %s", (text, row["id"])
            )

    async def _refresh_backlog(self) -> None:
        now = time.monotonic()
        if now - self._backlog_at < BACKLOG_EVERY_SECONDS:
            return
        self._backlog_at = now
        with contextlib.suppress(DatabaseUnavailable):
            count = await self._db.fetch_value("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            self._metrics.outbox_backlog.set(count or 0)
