"""The broker connection of the integration service cut in the middle of a stream of catalog
events (a TCP proxy between it and RabbitMQ; the shared broker itself is never touched): every
event ends in both calendars and on the page exactly once, at its latest revision."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from conftest import INTERNAL, PUBLIC, connected_settings
from integration_testkit import Harness, catalog_producer, make_app, running, snapshot, wait_until

from tdc_integration.render import google_event_id

ROOT = Path(__file__).resolve().parents[3]


def _proxy_class():
    spec = importlib.util.spec_from_file_location(
        "tdc_test_tcp_proxy", ROOT / "shared" / "tests" / "events" / "proxy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.TcpProxy


EVENTS = 12


async def test_a_broker_outage_loses_and_doubles_nothing(
    mysql_url, amqp_url, db_prefix, bus_namespace, signing_key, google, graph, credentials_file
):
    proxy = _proxy_class()(amqp_url)
    await proxy.start()
    prefix, namespace = f"{db_prefix}outage_", f"{bus_namespace}outage"
    settings = connected_settings(
        mysql_url, proxy.url, prefix, namespace, google, graph, credentials_file, integration_worker_enabled=True
    )
    app = make_app(settings, signing_key)
    snaps = [snapshot(title=f"Outage night {n}") for n in range(EVENTS)]
    try:
        async with catalog_producer(mysql_url, amqp_url, prefix, namespace) as producer, running(app) as client:
            harness = Harness(app, client, producer, signing_key, google=google, graph=graph)
            broker = app.state.readiness["broker"]

            async def consumed(n: int) -> bool:
                return await app.state.db.fetch_value("SELECT COUNT(*) FROM processed_events") >= n

            for snap in snaps[: EVENTS // 2]:
                await harness.publish("catalog.event.published", snap)
            await wait_until(lambda: consumed(2), what="the first events to arrive")
            proxy.cut()  # mid-stream: deliveries unacked, some maybe applied
            await wait_until(lambda: _not(broker), what="the service to see the broker gone")
            for snap in snaps[EVENTS // 2 :]:
                await harness.publish("catalog.event.published", snap)
            for snap in snaps[:3]:  # and revisions of events already pushed
                await harness.publish(
                    "catalog.event.updated",
                    {
                        **snap,
                        "sequence": 2,
                        "translations": {"en": {"title": snap["translations"]["en"]["title"] + "!"}},
                    },
                )
            proxy.restore()
            await wait_until(broker, what="the service to reconnect")
            await wait_until(lambda: consumed(EVENTS + 3), within=60, what="every event to be consumed")

            async def all_pushed() -> bool:
                waiting = await app.state.db.fetch_value(
                    "SELECT COUNT(*) FROM pushes WHERE status IN ('pending', 'failed')"
                )
                return waiting == 0

            await wait_until(all_pushed, within=60, what="every push to be done")
            assert await app.state.db.fetch_value("SELECT COUNT(*) FROM processed_events") == EVENTS + 3
            for n, snap in enumerate(snaps):
                event_id = google_event_id(snap["uid"])
                title = snap["translations"]["en"]["title"] + ("!" if n < 3 else "")
                for calendar in (INTERNAL, PUBLIC):
                    assert google.events(calendar)[event_id]["summary"] == title
                inserts = google.calls("POST", "/events")
                assert sum(1 for r in inserts if isinstance(r.body, dict) and r.body.get("id") == event_id) <= 2
                posts = [p for p in graph.live_posts().values() if p.link and p.link.endswith(f"/{snap['slug']}")]
                assert len(posts) == 1 and posts[0].message.startswith(title)
            assert proxy.connections >= 2
    finally:
        await proxy.stop()


async def _not(check) -> bool:
    return not await check()
