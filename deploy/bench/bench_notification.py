"""Notification benchmark: mails from the queue to a local SMTP sink, and queueing a newsletter.

Everything real on this machine: the local MariaDB (a schema of its own, dropped at the end),
an aiosmtpd sink in a child process (`aiosmtpd.handlers.Sink`: accepts and discards), and
senders as child processes, each the service's own `Sender` with one SMTP connection, as each
replica runs it.

- send, 1 replica: N mails queued, one sender process (its default SMTP connections, and once
  with a single connection) drains them: mails/s = N / time to drain, process start included.
- send, 2 replicas: the same with two sender processes claiming from one queue (SKIP LOCKED).
- newsletter: 10,000 verified readers who opted in; the time for `blog.post.published`'s
  effect (one INSERT ... SELECT that streams the readers into the queue), and this process's
  peak memory before and after (flat: no reader is held here).

Targets (issue 15): >= 200 mails/s with one sender; 10,000 newsletter mails queued in < 5 s.
Usage: python deploy/bench/bench_notification.py [--mails N]   (or `make bench ONLY=notification`)
Servers: TDC_MYSQL_URL, else the local default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tdc_notification.app import MIGRATIONS
from tdc_notification.clock import Clock
from tdc_notification.notifier import Notifier
from tdc_notification.queries import audiences
from tdc_notification.sender import Sender
from tdc_notification.settings import NotificationSettings
from tdc_notification.smtp import Mailer, SmtpTarget
from tdc_shared.db import Database
from tdc_shared.events import MIGRATIONS as BUS_MIGRATIONS
from tdc_shared.migrations import drop_schema, migrate

MYSQL_URL = os.environ.get("TDC_MYSQL_URL", "mysql://root:@127.0.0.1:3306")
READERS = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(prefix: str, smtp_url: str) -> NotificationSettings:
    return NotificationSettings(
        env="test",
        mysql_url=MYSQL_URL,
        db_prefix=prefix,
        notification_smtp_url=smtp_url,
        notification_sender_poll_seconds=0.05,
        log_level="WARNING",
    )


async def queue_mails(db: Database, count: int, tag: str) -> None:
    rows = [
        (
            f"bench:{tag}:{n}",
            n + 1,
            f"reader{n}@bench.test",
            json.dumps({"name": f"reader{n}", "link": "https://club.test/x?token=t", "expires_at": ""}),
        )
        for n in range(count)
    ]
    async with db.transaction() as tx:
        for start in range(0, count, 1000):
            await tx.execute_many(
                "INSERT INTO mails (idempotency_key, user_id, kind, to_address, language, subject, context, priority,"
                " status, due_at, created_at) VALUES (%s, %s, 'password_reset', %s, 'en', 'Reset your password', %s,"
                " 0, 'pending', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
                rows[start : start + 1000],
            )


async def pending(db: Database) -> int:
    return int(await db.fetch_value("SELECT COUNT(*) FROM mails WHERE status IN ('pending', 'sending')") or 0)


async def run_sender(prefix: str, smtp_url: str, connections: int) -> None:
    """Child process: one replica's sender lanes, until the queue is empty; prints what they sent."""
    config = settings(prefix, smtp_url)
    db = Database(config.mysql_url, config.schema_for("notification"), pool_size=2 * connections)
    notifier = Notifier(config, Clock())
    target = SmtpTarget.parse(smtp_url)
    lanes = [Sender(db, notifier, Mailer(target, 30.0), name=f"bench-{os.getpid()}/{n}") for n in range(connections)]

    async def drain(lane: Sender) -> None:
        while True:
            if await lane.send_batch():
                continue
            if not await pending(db):
                return
            await asyncio.sleep(0.05)  # the rest is held by other lanes: do not spin on the database

    await asyncio.gather(*(drain(lane) for lane in lanes))
    for lane in lanes:
        await lane.mailer.close()
    await db.close()
    print(json.dumps({"sent": sum(lane.sent for lane in lanes)}), flush=True)


async def send_round(db: Database, prefix: str, smtp_url: str, mails: int, replicas: int, connections: int) -> float:
    await queue_mails(db, mails, f"{replicas}-{connections}-{uuid.uuid4().hex[:6]}")
    started = time.perf_counter()
    children = [
        subprocess.Popen(  # noqa: ASYNC220 (started once per round, before the clock matters)
            [sys.executable, __file__, "--sender", prefix, smtp_url, str(connections)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(replicas)
    ]
    outputs = [child.communicate(timeout=600)[0] for child in children]
    elapsed = time.perf_counter() - started
    sent = [json.loads(out.strip().splitlines()[-1])["sent"] for out in outputs]
    failed = int(await db.fetch_value("SELECT COUNT(*) FROM mails WHERE status <> 'sent'") or 0)
    rate = mails / elapsed
    print(
        f"send, {replicas} replica(s) x {connections} SMTP connection(s): {mails} mails in {elapsed:.2f} s"
        f" = {rate:.0f} mails/s"
        f"  (per sender: {sent}; not sent: {failed})",
        flush=True,
    )
    await db.execute("DELETE FROM mails")
    return rate


async def newsletter_round(db: Database, config: NotificationSettings) -> float:
    async with db.transaction() as tx:
        for start in range(0, READERS, 2000):
            batch = range(start, min(start + 2000, READERS))
            await tx.execute_many(
                "INSERT INTO recipients (user_id, email, username, language, email_verified, is_active)"
                " VALUES (%s, %s, %s, %s, 1, 1)",
                [(n + 1, f"reader{n}@bench.test", f"reader{n}", ("en", "it", "fr", "es")[n % 4]) for n in batch],
            )
            await tx.execute_many(
                "INSERT INTO preferences (user_id, newsletter) VALUES (%s, 1)", [(n + 1,) for n in batch]
            )
    notifier = Notifier(config, Clock())
    context = {"slug": "news", "titles": {"en": "News", "it": "Novità"}, "excerpts": {"en": "Hi"}, "gated": False}
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    async with db.transaction() as tx:
        await audiences.newsletter(
            tx,
            post_id=1,
            context=json.dumps(context),
            subjects=notifier.subjects("newsletter", context),
            now=notifier.clock.now(),
        )
    elapsed = time.perf_counter() - started
    queued = await db.fetch_value("SELECT COUNT(*) FROM mails WHERE kind = 'newsletter'")
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"newsletter: {queued} mails queued in {elapsed:.2f} s (target < 5 s);"
        f" peak memory {peak_before / 1024:.0f} MiB before, {peak_after / 1024:.0f} MiB after",
        flush=True,
    )
    return elapsed


async def main(mails: int) -> int:
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    port = free_port()
    sink = subprocess.Popen(  # noqa: ASYNC220 (once, at start)
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    )
    smtp_url = f"smtp://127.0.0.1:{port}"
    config = settings(prefix, smtp_url)
    schema = config.schema_for("notification")
    await migrate(MYSQL_URL, schema, [BUS_MIGRATIONS, MIGRATIONS])
    db = Database(MYSQL_URL, schema, pool_size=4)
    try:
        await asyncio.sleep(0.5)  # the sink binds its port
        lanes = config.notification_sender_connections
        single = await send_round(db, prefix, smtp_url, mails, 1, 1)
        one = await send_round(db, prefix, smtp_url, mails, 1, lanes)
        two = await send_round(db, prefix, smtp_url, mails, 2, lanes)
        newsletter = await newsletter_round(db, config)
        print(
            f"targets: one sender (default {lanes} connections) {one:.0f} mails/s {'>=' if one >= 200 else '<'} 200"
            f" (one connection alone: {single:.0f}); two senders {two:.0f} mails/s ({two / one:.2f}x);"
            f" newsletter {newsletter:.2f} s {'<' if newsletter < 5 else '>='} 5 s",
            flush=True,
        )
    finally:
        await db.close()
        await drop_schema(MYSQL_URL, schema)
        sink.terminate()
        sink.wait(10)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--sender":
        asyncio.run(run_sender(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=3000)
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(asyncio.run(main(parser.parse_args().mails)))
