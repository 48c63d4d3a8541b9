"""`/readyz` reports a lost broker; the service starts and keeps its outbox while the broker is away."""

from __future__ import annotations

import asyncio

import httpx2
from prometheus_client import generate_latest

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.events import MIGRATIONS, publish
from tdc_shared.events.bus import event_bus

from .conftest import TEST_MIGRATIONS, bus_settings, wait_until
from .proxy import TcpProxy


async def test_readyz_follows_the_broker_connection(mysql_url, amqp_url, schema_prefix, namespace):
    proxy = TcpProxy(amqp_url)
    await proxy.start()
    proxy.cut()  # the broker is away before the service even starts
    settings = bus_settings(mysql_url, proxy.url, schema_prefix, namespace)
    app = create_service(
        ServiceSpec(
            name="catalog",
            settings=settings,
            components=[event_bus()],
            extra_migrations=[MIGRATIONS, TEST_MIGRATIONS],
        )
    )
    try:
        async with (
            app.router.lifespan_context(app),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://svc") as client,
        ):
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["success"] is False and body["errors"] == {"broker": ["unreachable"]}

            async with app.state.db.transaction() as tx:
                await publish(tx, "catalog.location.updated", {"id": 1, "slug": "cave"}, source="catalog")

            proxy.restore()

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await wait_until(ready, what="/readyz to turn green after the broker returns")
            body = (await client.get("/readyz")).json()
            assert body["data"]["checks"] == {"database": "ok", "broker": "ok"}

            metrics = generate_latest(app.state.metrics_registry).decode()
            for name in (
                "tdc_outbox_backlog",
                "tdc_event_publish_seconds",
                "tdc_event_consumer_lag_seconds",
                "tdc_dead_letters",
                "tdc_broker_connected",
            ):
                assert name in metrics
            await asyncio.sleep(0)
    finally:
        await proxy.stop()


def _gauge(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


async def test_broker_connected_follows_the_connection_without_readyz(mysql_url, amqp_url, schema_prefix, namespace):
    """Nobody calls /readyz here (compose does not): the gauge still goes 1, 0 and 1 with the link."""
    proxy = TcpProxy(amqp_url)
    await proxy.start()
    settings = bus_settings(mysql_url, proxy.url, schema_prefix, namespace)
    app = create_service(
        ServiceSpec(name="catalog", settings=settings, components=[event_bus()], extra_migrations=[MIGRATIONS])
    )
    try:
        async with (
            app.router.lifespan_context(app),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://svc"),
        ):

            async def connected(value: float) -> bool:
                # What the internal metrics port serves: the process's registry.
                return _gauge(generate_latest(app.state.metrics_registry).decode(), "tdc_broker_connected") == value

            await wait_until(lambda: connected(1.0), what="tdc_broker_connected 1 once the link is up")
            proxy.cut()
            await wait_until(lambda: connected(0.0), what="tdc_broker_connected 0 once the broker is gone")
            proxy.restore()
            await wait_until(lambda: connected(1.0), what="tdc_broker_connected 1 after the reconnect")
    finally:
        await proxy.stop()


async def test_stops_cleanly_while_the_broker_is_away_and_keeps_the_outbox(
    mysql_url, amqp_url, schema_prefix, namespace
):
    proxy = TcpProxy(amqp_url)
    await proxy.start()
    proxy.cut()
    settings = bus_settings(mysql_url, proxy.url, schema_prefix, namespace)
    app = create_service(
        ServiceSpec(name="catalog", settings=settings, components=[event_bus()], extra_migrations=[MIGRATIONS])
    )
    try:
        async with asyncio.timeout(30):  # a hang guard, not a speed check
            async with app.router.lifespan_context(app):
                async with app.state.db.transaction() as tx:
                    event = await publish(tx, "catalog.location.updated", {"id": 2}, source="catalog")
                db = app.state.db
                row = await db.fetch_one("SELECT sent_at FROM outbox WHERE event_id = %s", (str(event.id),))
                assert row["sent_at"] is None  # waits in the outbox for the broker
    finally:
        await proxy.stop()
