"""Helpers for the integration tests: the service on a fresh schema, a catalog-like producer
that publishes catalog.event.* through a real outbox and relay, and event snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from fastapi import FastAPI

from tdc_integration.app import build
from tdc_integration.settings import IntegrationSettings
from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.auth import KeySet, TokenVerifier
from tdc_shared.events import MIGRATIONS, publish
from tdc_shared.events.bus import EventBus, event_bus
from tdc_shared.settings import ServiceSettings
from tdc_shared.testing.keys import AUDIENCE, ISSUER, SigningKey, jwks

FAST = {
    "bus_retry_delay_seconds": 0.02,
    "bus_reconnect_max_seconds": 0.5,
    "bus_relay_retry_max_seconds": 0.5,
    "integration_backoff_base_seconds": 0.001,
    "integration_backoff_max_seconds": 0.01,
    "integration_worker_poll_seconds": 0.2,
    "log_level": "WARNING",
}


def make_settings(mysql_url: str, amqp_url: str, prefix: str, namespace: str, **extra: Any) -> IntegrationSettings:
    values: dict[str, Any] = {
        "env": "test",
        "mysql_url": mysql_url,
        "amqp_url": amqp_url,
        "db_prefix": prefix,
        "bus_namespace": namespace,
        **FAST,
    }
    values.update(extra)
    return IntegrationSettings(**values)


def make_app(settings: IntegrationSettings, signing_key: SigningKey) -> FastAPI:
    return build(
        settings,
        verifier=lambda s: TokenVerifier(KeySet.static(jwks(signing_key)), issuer=ISSUER, audience=AUDIENCE),
    )


@contextlib.asynccontextmanager
async def running(app: FastAPI, base_url: str = "http://integration.test") -> AsyncIterator[httpx2.AsyncClient]:
    async with app.router.lifespan_context(app):
        bus: EventBus = app.state.event_bus
        async with asyncio.timeout(30):
            await bus.wait_ready()
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextlib.asynccontextmanager
async def catalog_producer(mysql_url: str, amqp_url: str, prefix: str, namespace: str) -> AsyncIterator[FastAPI]:
    """Stands in for the catalog on the bus: its outbox and relay, publishing what it publishes.

    On a schema of its own (`<prefix>src_catalog`): the catalog's own tests, in the same run, have
    a running catalog whose relay would otherwise take these outbox rows to its namespace."""
    settings = ServiceSettings(
        env="test",
        mysql_url=mysql_url,
        amqp_url=amqp_url,
        db_prefix=f"{prefix}src_",
        bus_namespace=namespace,
        **{k: v for k, v in FAST.items() if k.startswith("bus_") or k == "log_level"},
    )
    app = create_service(
        ServiceSpec(name="catalog", settings=settings, components=[event_bus()], extra_migrations=[MIGRATIONS])
    )
    async with app.router.lifespan_context(app):
        async with asyncio.timeout(30):
            await app.state.event_bus.wait_ready()
        yield app


@contextlib.asynccontextmanager
async def listening(amqp_url: str, namespace: str, pattern: str) -> AsyncIterator[list[dict[str, Any]]]:
    """What the service publishes, as its consumers (the catalog, auth) would receive it."""
    import json

    import aio_pika

    received: list[dict[str, Any]] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{namespace}.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=pattern)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            received.append(json.loads(message.body))

        await queue.consume(on_message, no_ack=True)
        yield received


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


_ids = iter(range(int(time.time()) % 100000 * 1000, 10**12))


def snapshot(
    *,
    catalog_id: int | None = None,
    status: str = "published",
    sequence: int = 1,
    title: str = "Jazz under the stars",
    start: datetime | None = None,
    hours: float = 2,
    location: str = "main-stage",
    timezone: str = "America/Los_Angeles",
    artists: list[str] | None = None,
    translations: dict[str, dict[str, str]] | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    """An EVENT_SNAPSHOT as the catalog's `bus_payload` builds it."""
    catalog_id = catalog_id or next(_ids)
    start = start or (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=hours)
    names = artists if artists is not None else ["DJ Aurora", "Nightingale"]
    slot = (end - start) / max(1, len(names))
    return {
        "id": catalog_id,
        "uid": uid or str(uuid.uuid4()),
        "slug": f"event-{catalog_id}",
        "status": status,
        "start_utc": iso(start),
        "end_utc": iso(end),
        "timezone": timezone,
        "location": {"id": 1, "slug": location, "name": "The Main Stage"},
        "artists": [
            {
                "id": i + 1,
                "slug": name.lower().replace(" ", "-"),
                "name": name,
                "position": i + 1,
                "set_start_utc": iso(start + slot * i),
                "set_end_utc": iso(start + slot * (i + 1)),
            }
            for i, name in enumerate(names)
        ],
        "translations": translations
        or {
            "en": {"title": title, "subtitle": "A night of jazz", "description": "Bring a friend."},
            "it": {"title": f"{title} (it)", "subtitle": "Una notte di jazz", "description": "Porta un amico."},
            "fr": {"title": title, "subtitle": "", "description": ""},
            "es": {"title": title, "subtitle": "", "description": ""},
        },
        "sequence": sequence,
        "is_featured": False,
        "image_url": None,
    }


def deletion(snap: dict[str, Any]) -> dict[str, Any]:
    return {"id": snap["id"], "uid": snap["uid"], "slug": snap["slug"], "sequence": snap["sequence"] + 1}


class Harness:
    """The integration app (worker loop off: tests drive it), its client, the producer, the fakes."""

    def __init__(
        self, app: FastAPI, client: httpx2.AsyncClient, producer: FastAPI, signing_key: SigningKey, **fakes: Any
    ):
        self.app = app
        self.client = client
        self.producer = producer
        self.google: Any = fakes.get("google")
        self.graph: Any = fakes.get("graph")
        self.admin = {"Authorization": f"Bearer {signing_key.token(sub=1, role='admin')}"}
        self.staff = {"Authorization": f"Bearer {signing_key.token(sub=7, role='staff')}"}
        self.user = {"Authorization": f"Bearer {signing_key.token(sub=9, role='user')}"}
        self.published: list[dict[str, Any]] = []  # events the service sent over the bus

    @property
    def db(self):
        return self.app.state.db

    @property
    def worker(self):
        return self.app.state.push_worker

    async def publish(self, event_type: str, data: dict[str, Any]) -> str:
        async with self.producer.state.db.transaction() as tx:
            event = await publish(tx, event_type, data, source="catalog")
        return str(event.id)

    async def consumed(self, event_id: str) -> None:
        async def seen() -> bool:
            return bool(await self.db.fetch_value("SELECT 1 FROM processed_events WHERE event_id = %s", (event_id,)))

        # Generous: on a machine shared with other test runs the broker can be slow to deliver.
        await wait_until(seen, within=120, what=f"event {event_id} to be consumed")

    async def send(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish through the bus, wait for the consumer, then run the worker until idle."""
        await self.consumed(await self.publish(event_type, data))
        await self.drain()

    async def drain(self) -> None:
        for _ in range(50):
            if not await self.worker.run_once():
                return
        raise AssertionError("the worker never ran out of pushes")

    async def pushes(self, catalog_id: int) -> dict[tuple[str, str], dict[str, Any]]:
        rows = await self.db.fetch_all(
            "SELECT integration, target, status, attempts, last_error, next_attempt_at FROM pushes"
            " WHERE catalog_id = %s",
            (catalog_id,),
        )
        return {(r["integration"], r["target"]): r for r in rows}
