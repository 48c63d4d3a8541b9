"""1,000 events through the outbox while the broker goes away and comes back twice."""

from __future__ import annotations

from tdc_shared.db import Database, Session
from tdc_shared.events import Event, HandlerRegistry, publish

from .conftest import bus_settings, running_service, wait_until
from .proxy import TcpProxy

TOTAL = 1000
PER_TRANSACTION = 10


async def write_events(db: Database, count: int, start: int) -> None:
    for first in range(start, start + count, PER_TRANSACTION):
        async with db.transaction() as tx:
            for n in range(first, first + PER_TRANSACTION):
                await publish(tx, "catalog.event.published", {"id": n, "slug": f"e{n}"}, source="catalog")


async def test_every_event_applied_once_across_two_outages(mysql_url, amqp_url, schema_prefix, namespace):
    proxy = TcpProxy(amqp_url)
    await proxy.start()
    settings = bus_settings(mysql_url, proxy.url, schema_prefix, namespace)
    handlers = HandlerRegistry()

    @handlers.on("catalog.event.published")
    async def apply(tx: Session, event: Event) -> None:
        await tx.execute("INSERT INTO effects (event_id, note) VALUES (%s, %s)", (str(event.id), event.data["slug"]))

    try:
        async with (
            running_service("notification", settings, handlers=handlers, relay=False) as consumer,
            running_service("catalog", settings) as producer,
        ):
            consumer_db, producer_db = consumer.state.db, producer.state.db
            broker_checks = (consumer.state.readiness["broker"], producer.state.readiness["broker"])

            async def broker_down() -> bool:
                return not any([await check() for check in broker_checks])

            async def broker_up() -> bool:
                return all([await check() for check in broker_checks])

            async def some_handled(n: int) -> bool:
                return await consumer_db.fetch_value("SELECT COUNT(*) FROM processed_events") >= n

            await write_events(producer_db, 300, 0)
            await wait_until(lambda: some_handled(50), what="the first events to flow")
            proxy.cut()  # first outage: mid-stream, with messages unconfirmed and unacked
            await wait_until(broker_down, what="/readyz to report the lost broker")
            await write_events(producer_db, 300, 300)  # committed while the broker is away
            proxy.restore()
            await wait_until(broker_up, what="both services to reconnect")
            await write_events(producer_db, 200, 600)
            proxy.cut()  # second outage, right after a burst of commits
            await wait_until(broker_down, what="/readyz to report the lost broker again")
            await write_events(producer_db, 200, 800)
            proxy.restore()

            await wait_until(lambda: some_handled(TOTAL), within=90, what="all 1,000 events to be handled")
            effects = await consumer_db.fetch_one("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM effects")
            assert (effects["n"], effects["d"]) == (TOTAL, TOTAL)
            notes = await consumer_db.fetch_value("SELECT COUNT(DISTINCT note) FROM effects")
            assert notes == TOTAL

            async def all_marked_sent() -> bool:
                return await producer_db.fetch_value("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0

            await wait_until(all_marked_sent, what="every outbox row to be marked sent")
            assert proxy.connections >= 6  # each service reconnected after each outage
            assert await broker_up()
    finally:
        await proxy.stop()
