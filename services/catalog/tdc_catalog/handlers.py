"""Every event the catalog reacts to, in one place.

- `handlers`: consumed once per event through the inbox (`tdc_shared.events`), in the
  consumer's transaction: `integration.sl.checked_in` records a check-in, which makes the event
  show as live in `GET /api/v1/events/{slug}`.
- `broadcast(cache, db)`: run by every replica, outside any transaction: the catalog's own
  events (and a reconnection) clear the replica's response cache; a check-in clears it once
  the check-in is committed, so no replica keeps serving the event as not live.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from tdc_shared.cache import ResponseCache
from tdc_shared.db import Database, Session
from tdc_shared.events import EVENTS, BroadcastRegistry, Event, HandlerRegistry

from .queries import checkins
from .queries.common import utc_naive

log = logging.getLogger(__name__)

handlers = HandlerRegistry()

# Every event the catalog produces changes something a cached page may show.
CACHE_EVENTS = sorted(t for t, spec in EVENTS.items() if spec.producer == "catalog")
# How long a replica waits for another replica's consumer to commit a check-in.
CHECKIN_COMMIT_WAIT_SECONDS = 10.0
CHECKIN_POLL_SECONDS = 0.05


@handlers.on("integration.sl.checked_in")
async def record_checkin(tx: Session, event: Event) -> None:
    data = event.data
    event_id = await checkins.find_event(tx, data.get("event_id"), data.get("event_slug"))
    if event_id is None:
        # Deleted since (or never ours): nothing to show as live. Not an error to retry.
        log.warning("check-in for unknown event %r (%r) ignored", data.get("event_id"), data.get("event_slug"))
        return
    checked_in_at = utc_naive(datetime.fromisoformat(str(data["checked_in_at"])))
    location = data.get("location")
    if isinstance(location, dict):  # tolerant of a {"slug": ...} object as well as a slug
        location = location.get("slug")
    await checkins.record(
        tx,
        bus_event_id=str(event.id),
        event_id=event_id,
        location=str(location)[:100] if location else None,
        avatar_key=str(data["avatar_key"])[:36],
        avatar_name=str(data["avatar_name"])[:100],
        checked_in_at=checked_in_at,
    )


def broadcast(cache: ResponseCache | None, database: Callable[[], Database] | None = None) -> BroadcastRegistry | None:
    """What every replica does on the bus: keep its response cache in step with the data.

    `database` gives the app's database once it runs (the registry is built before it opens).
    """
    if cache is None:
        return None
    registry = BroadcastRegistry()
    waiting: set[asyncio.Task[None]] = set()

    async def drop_cached_pages(_: Event) -> None:
        cache.clear()

    async def drop_after_reconnect() -> None:
        # Events sent while this replica was cut off from the broker were never seen.
        cache.clear()

    async def clear_once_recorded(bus_event_id: str) -> None:
        assert database is not None
        db = database()
        deadline = asyncio.get_running_loop().time() + CHECKIN_COMMIT_WAIT_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            try:
                async with db.session() as s:
                    if await checkins.is_recorded(s, bus_event_id):
                        break
            except Exception:  # the database away: the TTL still bounds staleness
                log.warning("waiting for check-in %s: database unavailable", bus_event_id)
            await asyncio.sleep(CHECKIN_POLL_SECONDS)
        cache.clear()

    async def drop_when_checked_in(event: Event) -> None:
        # The broadcast may arrive before the consumer (in this replica or another) commits the
        # check-in: clear now, and again once the row is there.
        cache.clear()
        if database is None:
            return
        task = asyncio.create_task(clear_once_recorded(str(event.id)))
        waiting.add(task)
        task.add_done_callback(waiting.discard)

    for event_type in CACHE_EVENTS:
        registry.on(event_type)(drop_cached_pages)
    registry.on("integration.sl.checked_in")(drop_when_checked_in)
    registry.on_resync(drop_after_reconnect)
    return registry
