"""Every event the integration service consumes, applied through the inbox.

catalog.event.*: the read model of announced events takes the new state (unless it already
holds a newer revision) and, in the same transaction, a push is recorded for every configured
target (Google calendars, the Facebook page); the worker performs it after the commit.
"""

from __future__ import annotations

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry

from .queries import events as event_queries
from .queries import pushes as push_queries
from .worker import wake_workers

handlers = HandlerRegistry()


async def _apply(tx: Session, event: Event, status: str) -> None:
    if not await event_queries.apply(tx, event.data, status):
        return  # a redelivered or out-of-order older revision: the targets already have better
    await push_queries.request_all(tx, int(event.data["id"]))
    tx.after_commit(wake_workers)


@handlers.on("catalog.event.published")
async def event_published(tx: Session, event: Event) -> None:
    await _apply(tx, event, "published")


@handlers.on("catalog.event.updated")
async def event_updated(tx: Session, event: Event) -> None:
    # `updated` carries the event's own status (a cancelled event can still change).
    status = event.data.get("status")
    await _apply(tx, event, status if status in ("published", "cancelled") else "published")


@handlers.on("catalog.event.cancelled")
async def event_cancelled(tx: Session, event: Event) -> None:
    await _apply(tx, event, "cancelled")


@handlers.on("catalog.event.deleted")
async def event_deleted(tx: Session, event: Event) -> None:
    await _apply(tx, event, "deleted")
