"""Running producer and consumer services on a namespace of their own, against the real servers."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.events import MIGRATIONS
from tdc_shared.events.bus import EventBus, event_bus
from tdc_shared.settings import ServiceSettings
from tdc_shared.testing.bus import delete_namespace

TEST_MIGRATIONS = Path(__file__).parent / "migrations"
SERVICES = ("catalog", "notification", "integration", "membership")


def bus_settings(mysql_url: str, amqp_url: str, prefix: str, namespace: str, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "env": "test",
        "mysql_url": mysql_url,
        "amqp_url": amqp_url,
        "db_prefix": prefix,
        "bus_namespace": namespace,
        "bus_retry_delay_seconds": 0.02,
        "bus_reconnect_max_seconds": 0.5,
        "bus_relay_retry_max_seconds": 0.5,
        "db_pool_size": 20,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return ServiceSettings(**values)


@contextlib.asynccontextmanager
async def running_service(
    name: str, settings: ServiceSettings, *, handlers: Any = None, broadcast: Any = None, relay: bool = True
) -> AsyncIterator[FastAPI]:
    """A service app with the bus, through its real lifespan; yields once the broker link is up."""
    app = create_service(
        ServiceSpec(
            name=name,
            settings=settings,
            components=[event_bus(handlers=handlers, broadcast=broadcast, relay=relay)],
            extra_migrations=[MIGRATIONS, TEST_MIGRATIONS],
        )
    )
    async with app.router.lifespan_context(app):
        bus: EventBus = app.state.event_bus
        async with asyncio.timeout(20):
            await bus.wait_ready()
        yield app


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, within: float = 30.0, what: str = "condition"
) -> None:
    """Poll `predicate` (a cheap check) until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def counter_value(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics_registry.get_sample_value(name, labels or None)
    return value or 0.0


@pytest.fixture
async def namespace(amqp_url: str) -> AsyncIterator[str]:
    """A bus namespace of one test; its exchange and queues are deleted afterwards."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    await delete_namespace(amqp_url, ns, SERVICES)


@pytest.fixture
def schema_prefix(db_prefix: str) -> str:
    """Schemas of one test (dropped with the run's prefix at the end)."""
    return f"{db_prefix}{uuid.uuid4().hex[:6]}_"
