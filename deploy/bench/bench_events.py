"""Event bus benchmark: outbox -> relay -> RabbitMQ -> consumer, end to end, on this machine.

Two processes, as in production: this one runs a producing service (the business writes and
its outbox relay), a child process runs a consuming service (inbox + handler effect in one
transaction, ack after commit). Both use the real local MariaDB and RabbitMQ, on a namespace
and schema prefix of their own, removed at the end.

- drain: N events already committed in the outbox (written with the relay off), then the
  producing service starts: events/s = N / (last consumer commit - relay start). This is the
  outbox -> consumer throughput proper.
- live: N more events written as fast as possible (50 per transaction) while the relay and
  the consumer run: events/s = N / (last consumer commit - first write). The business writes
  share the producing process and the two cores, so this is the harder figure.
- latency: 1,000 events, one per transaction, at a fixed 100 events/s once the rest drained;
  commit-to-handled = consumer commit time - the event's occurred_at (stamped inside the
  producer's transaction, just before its commit).

Targets (issue 3): >= 1,000 events/s sustained; p99 < 100 ms at 100 events/s.
Usage: python deploy/bench/bench_events.py [--events N]   (or `make bench ONLY=events`)
Servers: TDC_MYSQL_URL / TDC_AMQP_URL, else the local defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

import aio_pika
from benchlog import log_sink

from tdc_shared.app import ServiceSpec, create_service
from tdc_shared.db import Session
from tdc_shared.events import MIGRATIONS, Event, HandlerRegistry, publish
from tdc_shared.events.bus import event_bus
from tdc_shared.events.topology import Names
from tdc_shared.migrations import drop_schema
from tdc_shared.settings import ServiceSettings

LATENCY_RATE = 100  # events/s
BATCH = 50
EFFECTS_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_effects (event_id CHAR(36) NOT NULL, phase VARCHAR(20) NOT NULL)"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
)


def settings_for(namespace: str, prefix: str) -> ServiceSettings:
    return ServiceSettings(
        env="test",
        mysql_url=os.environ.get("TDC_MYSQL_URL", "mysql://root:@127.0.0.1:3306"),
        amqp_url=os.environ.get("TDC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        db_prefix=prefix,
        bus_namespace=namespace,
        log_level="ERROR",
    )


def app_for(name: str, settings: ServiceSettings, **bus: object):
    return create_service(
        ServiceSpec(name=name, settings=settings, components=[event_bus(**bus)], extra_migrations=[MIGRATIONS])
    )


# -- the consuming service (child process) --------------------------------------------------


async def consume(namespace: str, prefix: str, expected: dict[str, int]) -> None:
    lags: dict[str, list[float]] = {phase: [] for phase in expected}
    finished: asyncio.Queue[str] = asyncio.Queue()
    handlers = HandlerRegistry()

    @handlers.on("catalog.event.published")
    async def apply(tx: Session, event: Event) -> None:
        phase = event.data["phase"]
        await tx.execute("INSERT INTO bench_effects (event_id, phase) VALUES (%s, %s)", (str(event.id), phase))

        def committed() -> None:
            lags[phase].append(time.time() - event.occurred_at.timestamp())
            if len(lags[phase]) == expected[phase]:
                finished.put_nowait(phase)

        tx.after_commit(committed)

    app = app_for("notification", settings_for(namespace, prefix), handlers=handlers, relay=False)
    async with app.router.lifespan_context(app):
        await app.state.db.execute(EFFECTS_SQL)
        await app.state.event_bus.wait_ready()
        print(json.dumps({"ready": True, "cpu": time.process_time()}), flush=True)
        for _ in expected:
            phase = await finished.get()
            duplicates = await app.state.db.fetch_value(
                "SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM bench_effects WHERE phase = %s", (phase,)
            )
            report = {
                "phase": phase,
                "at": time.time(),
                "cpu": time.process_time(),
                "lags": lags[phase],
                "duplicates": duplicates,
            }
            print(json.dumps(report), flush=True)


# -- the producing service and the driver ---------------------------------------------------


async def write_burst(db, count: int, phase: str) -> None:
    for first in range(0, count, BATCH):
        async with db.transaction() as tx:
            for n in range(first, min(first + BATCH, count)):
                await publish(tx, "catalog.event.published", {"id": n, "phase": phase}, source="catalog")


async def write_paced(db, count: int, rate: int) -> None:
    start = time.perf_counter()
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        async with db.transaction() as tx:
            await publish(tx, "catalog.event.published", {"id": n, "phase": "latency"}, source="catalog")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(events: int, latency_events: int) -> int:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    settings = settings_for(namespace, prefix)
    expected = {"drain": events, "live": events, "latency": latency_events}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--consumer",
        json.dumps({"namespace": namespace, "prefix": prefix, "expected": expected}),
        stdout=asyncio.subprocess.PIPE,
        stderr=log_sink("events"),  # its logs to a file; the terminal gets the figures
        limit=64 * 1024 * 1024,  # a report line carries every latency
    )

    async def report() -> dict:
        async with asyncio.timeout(600):
            line = await child.stdout.readline()
        if not line:
            raise RuntimeError("the consumer process ended early")
        return json.loads(line)

    reports: dict[str, dict] = {}
    try:
        ready = await report()
        # drain: a backlog already committed in the outbox, then the relay starts.
        writer = app_for("catalog", settings, relay=False)
        async with writer.router.lifespan_context(writer):
            await write_burst(writer.state.db, events, "drain")
        producer = app_for("catalog", settings)
        async with producer.router.lifespan_context(producer):
            db = producer.state.db
            drain_started, drain_cpu = time.time(), time.process_time()
            reports["drain"] = await report()
            drain_cpu = time.process_time() - drain_cpu
            # live: the business writes and the relay share the producing process.
            live_started = time.time()
            await write_burst(db, events, "live")
            live_written = time.time()
            reports["live"] = await report()
            await asyncio.sleep(1.0)
            await write_paced(db, latency_events, LATENCY_RATE)
            reports["latency"] = await report()
        await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await cleanup(settings, namespace, prefix)

    drain = reports["drain"]["at"] - drain_started
    consumer_cpu = reports["drain"]["cpu"] - ready["cpu"]
    live = reports["live"]["at"] - live_started
    lat = [x * 1000 for x in reports["latency"]["lags"]]
    print(
        f"outbox -> consumer, draining {events} committed events: {events / drain:.0f} events/s"
        f" ({drain:.2f}s from relay start to last consumer commit)  target >= 1000"
    )
    print(
        f"live, writes + relay + consumer together: {events / live:.0f} events/s"
        f" ({live:.2f}s from first write to last consumer commit; the writes alone took"
        f" {live_written - live_started:.2f}s, {BATCH} events per commit)"
    )
    print(
        f"latency at {LATENCY_RATE} events/s, commit-to-handled: p50 {statistics.median(lat):.1f} ms,"
        f" p99 {percentile(lat, 0.99):.1f} ms, max {max(lat):.1f} ms ({len(lat)} events)  target p99 < 100 ms"
    )
    print(
        f"  CPU per event in the drain: relay process {1e6 * drain_cpu / events:.0f} us,"
        f" consumer process {1e6 * consumer_cpu / events:.0f} us (MariaDB and RabbitMQ not included)"
    )
    duplicates = sum(r["duplicates"] for r in reports.values())
    print(f"duplicate effects: {duplicates}")
    return 0 if duplicates == 0 else 1


async def cleanup(settings: ServiceSettings, namespace: str, prefix: str) -> None:
    for context in ("catalog", "notification"):
        with contextlib.suppress(Exception):
            await drop_schema(settings.mysql_url, f"{prefix}{context}")
    names = Names(namespace)
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            for queue in (names.queue("notification"), names.dead_letter_queue("notification")):
                await channel.queue_delete(queue)
            await channel.exchange_delete(names.exchange)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in each throughput phase")
    parser.add_argument("--latency-events", type=int, default=1_000, help="events at 100/s in the latency phase")
    parser.add_argument("--consumer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consumer:
        spec = json.loads(args.consumer)
        asyncio.run(consume(spec["namespace"], spec["prefix"], spec["expected"]))
        return 0
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC on {os.cpu_count()} cores")
    return asyncio.run(drive(args.events, args.latency_events))


if __name__ == "__main__":
    sys.exit(main())
