"""Deleting what can no longer be used: ended sessions (with their refresh tokens), spent one-time tokens,
and throttle hits older than the longest throttle window.

Runs in every replica; the deletes are idempotent and sliced, so replicas overlapping is harmless.
Ended sessions are kept a week after they end so "why was I signed out" can still be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from tdc_shared.db import Database, DatabaseUnavailable

from .clock import utcnow
from .queries import throttle_hits

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600.0
KEEP_ENDED = timedelta(days=7)
SLICE = 1000
MAX_SLICES = 100


async def purge(db: Database, throttle_window: timedelta = KEEP_ENDED) -> int:
    """One pass; returns how many rows went.

    Throttle hits go once older than `throttle_window`: the service passes its longest throttle window
    (the default week outlasts any window we configure).
    """
    cutoff = utcnow() - KEEP_ENDED
    statements = (
        (
            "DELETE FROM sessions WHERE expires_at < %s OR (revoked_at IS NOT NULL AND revoked_at < %s) LIMIT %s",
            (cutoff, cutoff, SLICE),
        ),
        ("DELETE FROM one_time_tokens WHERE expires_at < %s LIMIT %s", (cutoff, SLICE)),
        (throttle_hits.PURGE, (utcnow() - throttle_window, SLICE)),
    )
    removed = 0
    for sql, params in statements:
        for _ in range(MAX_SLICES):
            count = await db.execute(sql, params)
            removed += count
            if count < SLICE:
                break
    return removed


def housekeeping(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(EVERY_SECONDS)
                try:
                    removed = await purge(app.state.db, app.state.auth.throttle.longest_window)
                    if removed:
                        log.info("purged ended sessions, spent tokens and old throttle hits", extra={"rows": removed})
                except DatabaseUnavailable as exc:
                    log.warning("housekeeping skipped: %s", exc)
                except Exception:
                    log.exception("housekeeping failed")

        task = asyncio.create_task(loop(), name="auth-housekeeping")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return component(app)
