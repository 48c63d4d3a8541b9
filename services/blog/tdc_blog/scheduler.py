"""Scheduled publication as an app component: every replica polls, the database decides.

Each round claims the due posts with `SELECT ... FOR UPDATE SKIP LOCKED` (queries/schedule.py)
in one transaction that also marks them published and writes their `blog.post.published`
events to the outbox; a post is therefore published once, by whichever replica locked it. The
first round runs at start-up, so a post that fell due while the service was down goes up as
soon as it is back. Nothing is kept in process memory: a replica killed mid-round rolls back
and another one (or the next round) publishes the post.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from tdc_shared.db import Database, DatabaseUnavailable
from tdc_shared.events import publish
from tdc_shared.events.link import stop_tasks

from .queries import posts as post_queries
from .queries import schedule
from .queries.common import utc_now

log = logging.getLogger(__name__)


async def publish_due(db: Database, batch: int, on_commit: Callable[[], None] | None = None) -> list[int]:
    """One round: publish every post due now (in batches); the ids this replica published."""
    published: list[int] = []
    while True:
        async with db.transaction() as tx:
            ids = await schedule.claim_due(tx, utc_now(), batch)
            for post_id in ids:
                post = await post_queries.find_admin(tx, post_id)
                if post is None:  # cannot happen under our lock; keep the round going anyway
                    continue
                await publish(tx, "blog.post.published", await post_queries.bus_payload(tx, post), source="blog")
            if ids and on_commit is not None:
                tx.after_commit(on_commit)
        published.extend(ids)
        if len(ids) < batch:
            return published


def scheduler(poll_seconds: float, batch: int) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        db: Database = app.state.db
        cache = getattr(app.state, "cache", None)
        clear = cache.clear if cache is not None else None

        stopping = asyncio.Event()

        async def run() -> None:
            # A flag as well as the cancellation: on 3.11 the driver's wait_for can swallow a
            # cancel, and the loop must still end.
            while not stopping.is_set():
                try:
                    ids = await publish_due(db, batch, clear)
                    if ids:
                        log.info("published %d scheduled post(s)", len(ids), extra={"post_ids": ids})
                except DatabaseUnavailable as exc:
                    log.warning("scheduled publication skipped: %s", exc)
                except Exception:
                    log.exception("scheduled publication failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), poll_seconds)

        task = asyncio.create_task(run(), name="blog-scheduler")
        try:
            yield
        finally:
            stopping.set()
            await stop_tasks([task], "blog scheduler")

    return component
