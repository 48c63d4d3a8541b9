"""The event bus as an app component: the outbox relay and the consumers of one service.

    from tdc_shared.events import MIGRATIONS, HandlerRegistry
    from tdc_shared.events.bus import event_bus

    handlers = HandlerRegistry()          # (tx, event) handlers, run once per event per service

    ServiceSpec(..., components=[event_bus(handlers=handlers)], extra_migrations=[MIGRATIONS])

`event_bus(handlers=None, broadcast=None, relay=True)` starts, inside the app's lifespan:
- the outbox relay (`relay.py`) when `relay` is true: every producing service needs it;
- the consumer of the durable quorum queue `<ns>.<service>` when `handlers` has entries:
  inbox in the handler's transaction, ack after commit, retries, dead letters (`consumer.py`);
- the broadcast consumer, always fed the token revocations (`revocations.py`: every process
  refuses revoked tokens), plus `broadcast`'s entries when given: a per-process exclusive, auto-delete
  queue whose handlers take just the event and run outside any transaction, with no inbox,
  for state every replica must see (e.g. the catalog dropping its in-process cache on its own
  `catalog.*` events). Use `BroadcastRegistry` (or anything with `event_types` and
  `handlers_for`); see `broadcast.py` for what it does and does not promise.

All of it shares one broker connection that is reopened with backoff when it drops (`link.py`);
the service starts and serves even while the broker is away (events wait in the outbox).
`/readyz` reports the connection as "broker"; metrics go to the app's registry (`metrics.py`).
Names (`<ns>` = `settings.bus_namespace`) are in `topology.py`; dead letters are listed and
replayed with `python -m tdc_shared.events.admin` (`make dead-letters SERVICE=x`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from ..app import Component
from ..db import Database, DatabaseUnavailable
from ..settings import ServiceSettings
from .broadcast import BroadcastConsumer
from .consumer import ServiceConsumer
from .handlers import BroadcastRegistry, HandlerRegistry
from .link import STOP_GRACE_SECONDS, BrokerLink, stop_tasks
from .metrics import BusMetrics
from .relay import OutboxRelay
from .revocations import MergedBroadcast, revocation_handlers
from .topology import Names, declare_dead_letter_queue

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_SECONDS = 600.0
DEAD_LETTER_GAUGE_EVERY_SECONDS = 15.0
# Deletes run in slices of 5000 rows so no single statement holds locks for long.
MAX_DELETE_ROUNDS = 200


class EventBus:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        service: str,
        db: Database,
        handlers: Any = None,
        broadcast: Any = None,
        relay: bool = True,
        registry: Any = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.names = Names(settings.bus_namespace)
        self.metrics = BusMetrics(registry)
        self.link = BrokerLink(
            settings.amqp_url,
            name=f"{settings.bus_namespace}.{service}",
            max_backoff=settings.bus_reconnect_max_seconds,
        )
        self._db = db
        self.relay: OutboxRelay | None = None
        self.consumer: ServiceConsumer | None = None
        self.broadcast: BroadcastConsumer | None = None
        if relay:
            self.relay = OutboxRelay(
                db,
                self.link,
                self.names,
                source=service,
                metrics=self.metrics,
                batch_size=settings.bus_relay_batch_size,
                poll_seconds=settings.bus_relay_poll_seconds,
                retry_max_seconds=settings.bus_relay_retry_max_seconds,
                publish_timeout=settings.bus_publish_timeout_seconds,
            )
        if handlers:
            self.consumer = ServiceConsumer(
                db,
                self.link,
                self.names,
                service=service,
                handlers=handlers,
                metrics=self.metrics,
                prefetch=settings.bus_prefetch,
                workers=settings.bus_consumer_workers,
                max_attempts=settings.bus_max_attempts,
                retry_delay=settings.bus_retry_delay_seconds,
                publish_timeout=settings.bus_publish_timeout_seconds,
            )
        if broadcast:
            self.broadcast = BroadcastConsumer(
                self.link, self.names, service=service, handlers=broadcast, metrics=self.metrics
            )
        self._tasks: list[asyncio.Task[Any]] = []
        self._relay_task: asyncio.Task[None] | None = None
        self.link.on_state = lambda up: self.metrics.broker_up.set(1 if up else 0)

    async def connected(self) -> bool:
        """Readiness: false while the broker connection is down (or not yet set up)."""
        up = await self.link.alive()
        self.metrics.broker_up.set(1 if up else 0)
        return up

    async def wait_ready(self) -> None:
        """Until the connection is up and every queue is declared (tests, tooling)."""
        await self.link.ready.wait()

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.link.run(), name=f"bus-link-{self.service}"))
        if self.consumer is not None:
            self.consumer.start()
        if self.relay is not None:
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"bus-relay-{self.service}")
            self._tasks.append(self._relay_task)
        self._tasks.append(asyncio.create_task(self._housekeeping(), name=f"bus-housekeeping-{self.service}"))

    async def stop(self) -> None:
        for consumer in (self.consumer, self.broadcast):
            if consumer is not None:
                await consumer.stop()
        if self._relay_task is not None and self.relay is not None:
            self.relay.stop()
            if self.link.ready.is_set():  # else it waits for the broker: nothing to finish
                await asyncio.wait([self._relay_task], timeout=STOP_GRACE_SECONDS)
        await stop_tasks(self._tasks, "event bus")
        self._tasks.clear()

    async def _housekeeping(self) -> None:
        """Forget sent outbox rows and old inbox rows; keep the dead-letter gauge current."""
        since_cleanup = HOUSEKEEPING_EVERY_SECONDS
        while True:
            if self.consumer is not None and self.link.ready.is_set():
                await self._count_dead_letters()
            if since_cleanup >= HOUSEKEEPING_EVERY_SECONDS:
                since_cleanup = 0.0
                try:
                    await self._forget_old_rows()
                except DatabaseUnavailable as exc:
                    log.warning("bus housekeeping skipped: %s", exc)
                except Exception:
                    log.exception("bus housekeeping failed")
            await asyncio.sleep(DEAD_LETTER_GAUGE_EVERY_SECONDS)
            since_cleanup += DEAD_LETTER_GAUGE_EVERY_SECONDS

    async def _count_dead_letters(self) -> None:
        connection = self.link.connection
        if connection is None:
            return
        try:
            channel = await connection.channel()
            try:
                queue = await declare_dead_letter_queue(channel, self.names, self.service)
                self.metrics.dead_letters.set(queue.declaration_result.message_count or 0)
            finally:
                await channel.close()
        except Exception as exc:
            log.debug("could not count dead letters: %s", exc)

    async def _forget_old_rows(self) -> None:
        if self.relay is not None:
            seconds = int(self.settings.bus_outbox_retention_hours * 3600)
            for _ in range(MAX_DELETE_ROUNDS):
                if not await self._db.execute(
                    "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND"
                    " LIMIT 5000",
                    (seconds,),
                ):
                    break
        if self.consumer is not None:
            seconds = int(self.settings.bus_inbox_retention_days * 86400)
            for _ in range(MAX_DELETE_ROUNDS):
                if not await self._db.execute(
                    "DELETE FROM processed_events WHERE processed_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND"
                    " LIMIT 5000",
                    (seconds,),
                ):
                    break


def event_bus(
    *,
    handlers: HandlerRegistry | None = None,
    broadcast: BroadcastRegistry | HandlerRegistry | None = None,
    relay: bool = True,
) -> Component:
    """The bus as a `ServiceSpec` component; see the module docstring."""

    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[EventBus]:
        # Every process with a bus also learns token revocations, for the verifier it checks tokens with.
        verifier = getattr(app.state, "verifier", None)
        merged = MergedBroadcast(broadcast, revocation_handlers(verifier) if verifier is not None else None)
        bus = EventBus(
            settings=app.state.settings,
            service=app.state.service_name,
            db=app.state.db,
            handlers=handlers,
            broadcast=merged,
            relay=relay,
            registry=getattr(app.state, "metrics_registry", None),
        )
        app.state.event_bus = bus
        app.state.readiness["broker"] = bus.connected
        await bus.start()
        try:
            yield bus
        finally:
            await bus.stop()

    return component
