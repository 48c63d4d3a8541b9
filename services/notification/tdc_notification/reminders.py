"""Event reminders and cancellation notices, scheduled in the database.

A reminder is a queue row with `due_at` = start - the reader's `reminder_hours_before`: the
senders of all replicas claim due rows with SKIP LOCKED, so no process-local timer exists for
two replicas to fire. A reschedule drops the pending reminders and schedules them afresh at
the new time (the idempotency key holds the start time); a cancellation replaces them with a
notice to the same readers; a deletion drops them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from .clock import parse_utc
from .notifier import Notifier
from .queries import audiences, catalog


def event_context(data: dict[str, Any]) -> dict[str, Any]:
    """What the reminder and cancellation mails show, from a catalog event snapshot."""
    translations = data.get("translations") or {}
    location = data.get("location") or {}
    return {
        "event": {
            "id": data.get("id"),
            "slug": data.get("slug") or "",
            "titles": {lang: (t or {}).get("title") for lang, t in translations.items() if isinstance(t, dict)},
            "start_utc": data.get("start_utc"),
            "timezone": data.get("timezone"),
            "location": location.get("name") if isinstance(location, dict) else None,
            "artists": [a.get("name") for a in data.get("artists") or [] if isinstance(a, dict) and a.get("name")],
        }
    }


def _lineup(data: dict[str, Any]) -> list[int]:
    return [int(a["id"]) for a in data.get("artists") or [] if isinstance(a, dict) and a.get("id") is not None]


def _location_id(data: dict[str, Any]) -> int | None:
    location = data.get("location")
    if isinstance(location, dict) and location.get("id") is not None:
        return int(location["id"])
    return None


def _artist_list(ids: list[int]) -> str:
    return "," + "".join(f"{i}," for i in ids)


async def learn_lineup(tx: Session, data: dict[str, Any]) -> None:
    """Event snapshots name their venue and artists: the slug read model learns them too."""
    location = data.get("location")
    if isinstance(location, dict):
        await catalog.remember(tx, "location", location)
    for artist in data.get("artists") or []:
        if isinstance(artist, dict):
            await catalog.remember(tx, "artist", artist)


async def event_changed(tx: Session, notifier: Notifier, data: dict[str, Any]) -> None:
    """Published or updated: (re)schedule reminders for the current time, venue and lineup."""
    event_id = int(data["id"])
    start = parse_utc(data.get("start_utc"))
    await learn_lineup(tx, data)
    await audiences.drop_unsent_reminders(tx, event_id)
    if start is None or data.get("status") not in (None, "published") or start <= notifier.clock.now():
        await catalog.forget_event(tx, event_id)
        return
    context = event_context(data)
    lineup = _lineup(data)
    await catalog.remember_event(tx, event_id, start, _location_id(data), lineup, context)
    await schedule(tx, notifier, event_id, start, _location_id(data), _artist_list(lineup), context)


async def schedule(
    tx: Session,
    notifier: Notifier,
    event_id: int,
    start: datetime,
    location_id: int | None,
    artist_ids: str,
    context: dict[str, Any],
    user_id: int | None = None,
) -> None:
    queued = await audiences.schedule_reminders(
        tx,
        event_id=event_id,
        start=start,
        location_id=location_id,
        artist_ids=artist_ids,
        context=json.dumps(context),
        subjects=notifier.subjects("event_reminder", context),
        now=notifier.clock.now(),
        user_id=user_id,
    )
    if queued:
        tx.after_commit(notifier.wake)


async def event_cancelled(tx: Session, notifier: Notifier, data: dict[str, Any]) -> None:
    event_id = int(data["id"])
    start = parse_utc(data.get("start_utc"))
    if start is not None and start > notifier.clock.now():
        context = event_context(data)
        queued = await audiences.cancellation_notices(
            tx,
            event_id=event_id,
            context=json.dumps(context),
            subjects=notifier.subjects("event_cancelled", context),
            now=notifier.clock.now(),
        )
        if queued:
            tx.after_commit(notifier.wake)
    await audiences.drop_unsent_reminders(tx, event_id)
    await catalog.forget_event(tx, event_id)


async def event_deleted(tx: Session, data: dict[str, Any]) -> None:
    event_id = int(data["id"])
    await audiences.drop_unsent_reminders(tx, event_id)
    await audiences.cancel_event_mail(tx, event_id, ("event_cancelled",))
    await catalog.forget_event(tx, event_id)


async def reader_changed(tx: Session, notifier: Notifier, user_id: int) -> None:
    """Preferences changed (or the address became mailable): this reader's reminders afresh."""
    await audiences.drop_unsent_reminders(tx, None, user_id)
    for event in await catalog.upcoming_events(tx, notifier.clock.now()):
        await schedule(
            tx,
            notifier,
            int(event["id"]),
            event["start_utc"],
            event["location_id"],
            event["artist_ids"],
            json.loads(event["context"]),
            user_id=user_id,
        )
