"""SQL for check-ins: DJs and hosts checking in at a venue from Second Life, and "live" state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tdc_shared.db import Session

from .common import iso_utc
from .events import utc_now

# A check-in counts from this long before the event starts (the DJ sets up), and the event
# shows as live from the first such check-in until it ends.
EARLY_CHECKIN = timedelta(hours=1)


async def find_event(tx: Session, event_id: Any, slug: Any) -> int | None:
    """The event a check-in names: by id (the catalog's), else by slug; None when it is gone."""
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        found = await tx.fetch_value("SELECT id FROM events WHERE id = %s", (event_id,))
        if found is not None:
            return int(found)
    if isinstance(slug, str) and slug:
        found = await tx.fetch_value("SELECT id FROM events WHERE slug = %s", (slug,))
        if found is not None:
            return int(found)
    return None


async def record(
    tx: Session,
    *,
    bus_event_id: str,
    event_id: int,
    location: str | None,
    avatar_key: str,
    avatar_name: str,
    checked_in_at: datetime,
) -> None:
    # INSERT IGNORE on the bus event's id: a redelivery that got past the inbox adds nothing.
    await tx.execute(
        "INSERT IGNORE INTO event_checkins "
        "(bus_event_id, event_id, location_slug, avatar_key, avatar_name, checked_in_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (bus_event_id, event_id, location, avatar_key, avatar_name, checked_in_at),
    )


async def is_recorded(tx: Session, bus_event_id: str) -> bool:
    return bool(await tx.fetch_value("SELECT 1 FROM event_checkins WHERE bus_event_id = %s", (bus_event_id,)))


async def live(tx: Session, event_id: int, start: datetime, end: datetime) -> dict[str, Any] | None:
    """`{"since", "by"}` (the first check-in of this event's window) while it runs, else None."""
    now = utc_now()
    if not start - EARLY_CHECKIN <= now < end:
        return None
    row = await tx.fetch_one(
        "SELECT checked_in_at, avatar_name FROM event_checkins "
        "WHERE event_id = %s AND checked_in_at >= %s AND checked_in_at < %s "
        "ORDER BY checked_in_at, id LIMIT 1",
        (event_id, start - EARLY_CHECKIN, end),
    )
    if row is None:
        return None
    return {"since": iso_utc(row["checked_in_at"]), "by": row["avatar_name"]}


async def for_event(tx: Session, event_id: int) -> list[dict[str, Any]]:
    """Every check-in at this event, newest first (for staff)."""
    rows = await tx.fetch_all(
        "SELECT avatar_key, avatar_name, location_slug AS location, checked_in_at, recorded_at "
        "FROM event_checkins WHERE event_id = %s ORDER BY checked_in_at DESC, id DESC LIMIT 500",
        (event_id,),
    )
    for row in rows:
        row["checked_in_at"] = iso_utc(row["checked_in_at"])
        row["recorded_at"] = iso_utc(row["recorded_at"])
    return rows
