"""Every event the integration service consumes, applied through the inbox.

auth.sl_link.code_issued / auth.user.deleted: the one-time Second Life link codes (hashes only).

catalog.event.*: the read model of announced events takes the new state (unless it already
holds a newer revision) and, in the same transaction, a push is recorded for every configured
target (Google calendars, the Facebook page); the worker performs it after the commit.
"""

from __future__ import annotations

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry

from .queries import events as event_queries
from .queries import pushes as push_queries
from .queries import sl as sl_queries
from .sl.cache import forget_boards
from .timefmt import parse_utc
from .worker import wake_workers

handlers = HandlerRegistry()


async def _apply(tx: Session, event: Event, status: str) -> None:
    if not await event_queries.apply(tx, event.data, status):
        return  # a redelivered or out-of-order older revision: the targets already have better
    await push_queries.request_all(tx, int(event.data["id"]))
    tx.after_commit(wake_workers)
    tx.after_commit(forget_boards)


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


# -- Second Life avatar links (auth owns the link; we only check the code) ------------------


@handlers.on("auth.sl_link.code_issued")
async def link_code_issued(tx: Session, event: Event) -> None:
    expires_at = parse_utc(event.data.get("expires_at"))
    if expires_at is None:
        raise ValueError("auth.sl_link.code_issued without expires_at")
    await sl_queries.store_code(tx, int(event.data["user_id"]), str(event.data["code_hash"]).lower(), expires_at)


@handlers.on("auth.user.deleted")
async def user_deleted(tx: Session, event: Event) -> None:
    await sl_queries.forget_user(tx, int(event.data["user_id"]))
