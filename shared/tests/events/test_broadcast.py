"""Broadcast handlers: every replica sees the event; resync after each (re)connection."""

from __future__ import annotations

from tdc_shared.events import BroadcastRegistry, Event, publish

from .conftest import bus_settings, counter_value, running_service, wait_until


async def test_every_replica_sees_a_broadcast_event(mysql_url, amqp_url, schema_prefix, namespace):
    settings = bus_settings(mysql_url, amqp_url, schema_prefix, namespace)
    seen: dict[str, list[str]] = {"a": [], "b": []}
    resyncs: list[str] = []

    def registry(replica: str) -> BroadcastRegistry:
        broadcast = BroadcastRegistry()

        @broadcast.on("catalog.event.updated")
        async def forget(event: Event) -> None:
            seen[replica].append(event.data["slug"])

        @broadcast.on("catalog.event.deleted")
        async def fail(event: Event) -> None:
            raise RuntimeError("a broadcast handler that fails is logged, not retried")

        @broadcast.on_resync
        async def resync() -> None:
            resyncs.append(replica)

        return broadcast

    async with (
        running_service("catalog", settings, broadcast=registry("a")) as replica_a,
        running_service("catalog", settings, broadcast=registry("b")) as replica_b,
    ):
        assert sorted(resyncs) == ["a", "b"]
        async with replica_a.state.db.transaction() as tx:
            await publish(tx, "catalog.event.deleted", {"id": 1, "slug": "gone"}, source="catalog")
            await publish(tx, "catalog.event.updated", {"id": 2, "slug": "changed"}, source="catalog")

        async def both_saw_it() -> bool:
            return seen["a"] == ["changed"] and seen["b"] == ["changed"]

        await wait_until(both_saw_it, what="both replicas to run their broadcast handler")
        for app in (replica_a, replica_b):

            async def failure_counted(app=app) -> bool:
                return (
                    counter_value(app, "tdc_events_handled_total", type="catalog.event.deleted", outcome="failed") == 1
                )

            await wait_until(failure_counted, what="the failing broadcast handler to be counted")
