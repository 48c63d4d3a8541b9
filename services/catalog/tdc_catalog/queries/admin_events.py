"""SQL for events as staff edit them: drafts, translations, lineups, status changes, bus payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tdc_shared.db import Session
from tdc_shared.pagination import ListRequest, capped_count, cursor_int, keyset_after, keyset_page, keyset_params
from tdc_shared.translations import TranslatedTable

from . import search
from .common import image_of, iso_utc
from .events import TEXT_FIELDS, EventList, cursor_time, sort_key

# Which status an event may move to from each status.
TRANSITIONS = {"draft": ("published",), "published": ("cancelled",), "cancelled": ()}

ADMIN_FIELDS = (
    "id",
    "uid",
    "slug",
    "status",
    "title",
    "subtitle",
    "description",
    "start_utc",
    "end_utc",
    "timezone",
    "location_id",
    "image_media_id",
    "is_featured",
    "sequence",
    "published_at",
    "cancelled_at",
    "created_at",
    "updated_at",
)
EVENTS = TranslatedTable(
    "events",
    "event_translations",
    "event_id",
    ADMIN_FIELDS,
    TEXT_FIELDS,
    booleans=("is_featured",),
    times=("start_utc", "end_utc", "published_at", "cancelled_at", "created_at", "updated_at"),
)


async def find_row(tx: Session, event_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return await tx.fetch_one(f"SELECT {', '.join(ADMIN_FIELDS)} FROM events WHERE id = %s{suffix}", (event_id,))  # noqa: S608 - columns and stamp names are constants, %s marks; values are parameters


# The staff list's order: newest start first, drafts without a start last (NULL sorts lowest).
ADMIN_ORDER = " ORDER BY start_utc DESC, id DESC"


def admin_scope(status: str | None) -> str:
    """The cursor scope of the staff list: a cursor of one status's list is refused by another's."""
    return f"admin-events:{status or 'all'}"


def admin_sort_key(row: dict[str, Any]) -> tuple[str, int]:
    """The public lists' cursor key, with "" for a draft without a start."""
    return sort_key(row) if row["start_utc"] is not None else ("", row["id"])


def _cursor_start(value: Any) -> datetime | None:
    return None if value == "" else cursor_time(value)


def _after(after: tuple[datetime | None, int] | None) -> tuple[str, list[Any]]:
    """The keyset condition for the rows after `after` (start, id) in ADMIN_ORDER."""
    if after is None:
        return "", []
    start, event_id = after
    if start is None:  # within the rows without a start, which come last
        return "start_utc IS NULL AND id < %s", [event_id]
    return (
        f"(({keyset_after(('start_utc', 'id'), descending=True)}) OR start_utc IS NULL)",
        keyset_params((start, event_id)),
    )


async def list_admin(tx: Session, status: str | None, request: ListRequest) -> EventList:
    """One page of the staff list (by offset or after a cursor), optionally of one status, its
    total counted up to COUNT_CAP and the cursor to the next.

    The page's keys are read through the (status, start_utc) and (start_utc) indexes, then only
    its events are loaded, so a page costs the same however many events there are."""
    scope = admin_scope(status)
    after = request.after(scope, (_cursor_start, cursor_int))
    clauses, params = (["status = %s"], [status]) if status else ([], [])
    total, exact = await capped_count(
        tx,
        "SELECT 1 FROM events" + (" WHERE " + " AND ".join(clauses) if clauses else ""),  # noqa: S608 - constant clauses
        params,
    )
    keyset, keyset_values = _after(after)
    if keyset:
        clauses.append(keyset)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    keys = await tx.fetch_all(
        f"SELECT id, start_utc FROM events{where}{ADMIN_ORDER} LIMIT %s OFFSET %s",  # noqa: S608 - constant clauses; values are parameters
        [*params, *keyset_values, request.fetch, request.offset],
    )
    page = keyset_page(keys, request, scope, admin_sort_key)
    ids = [key["id"] for key in page.items]
    marks = ", ".join(["%s"] * len(ids))
    items = await admin_rows(tx, f"WHERE id IN ({marks}){ADMIN_ORDER}", ids) if ids else []
    return EventList(items, total, exact, page.has_more, page.next_cursor)


async def admin_rows(tx: Session, tail: str, params: list[Any] | tuple[Any, ...]) -> list[dict[str, Any]]:
    """Events as staff edit them, with translations and lineups: three queries for any number."""
    rows = await EVENTS.admin_rows(tx, tail, params)
    if not rows:
        return rows
    marks = ", ".join(["%s"] * len(rows))
    slots = await tx.fetch_all(
        "SELECT ea.event_id, ea.artist_id, ea.position, ea.set_start_utc, ea.set_end_utc, a.slug, a.name "  # noqa: S608 - columns and stamp names are constants, %s marks; values are parameters
        f"FROM event_artists ea JOIN artists a ON a.id = ea.artist_id WHERE ea.event_id IN ({marks}) "
        "ORDER BY ea.event_id, ea.position",
        [r["id"] for r in rows],
    )
    lineups: dict[int, list[dict[str, Any]]] = {}
    for slot in slots:
        event_id = slot.pop("event_id")
        slot["set_start_utc"] = iso_utc(slot["set_start_utc"])
        slot["set_end_utc"] = iso_utc(slot["set_end_utc"])
        lineups.setdefault(event_id, []).append(slot)
    for row in rows:
        row["lineup"] = lineups.get(row["id"], [])
    return rows


async def find_admin(tx: Session, event_id: int) -> dict[str, Any] | None:
    rows = await admin_rows(tx, "WHERE id = %s", (event_id,))
    return rows[0] if rows else None


async def create(tx: Session, values: dict[str, Any]) -> int:
    return await EVENTS.create(tx, {"uid": str(uuid.uuid4()), **values})


update = EVENTS.update
set_translations = EVENTS.set_translations
delete = EVENTS.delete


async def bump_sequence(tx: Session, event_id: int) -> None:
    await tx.execute("UPDATE events SET sequence = sequence + 1 WHERE id = %s", (event_id,))


# The column stamped when an event reaches each status (names from code, never from input).
_STATUS_STAMPS = {"published": "published_at", "cancelled": "cancelled_at"}


async def move_to(tx: Session, event_id: int, status: str) -> None:
    await tx.execute(
        f"UPDATE events SET status = %s, {_STATUS_STAMPS[status]} = UTC_TIMESTAMP(6) WHERE id = %s",  # noqa: S608 - a stamp column name from _STATUS_STAMPS
        (status, event_id),
    )


async def set_lineup(tx: Session, event_id: int, slots: list[dict[str, Any]]) -> None:
    await tx.execute("DELETE FROM event_artists WHERE event_id = %s", (event_id,))
    # Each slot carries its event's start and visibility: an artist's list reads them in order.
    await tx.execute_many(
        "INSERT INTO event_artists (event_id, artist_id, position, set_start_utc, set_end_utc, start_utc, is_public) "
        "SELECT id, %s, %s, %s, %s, start_utc, is_public FROM events WHERE id = %s",
        [(s["artist_id"], i + 1, s["set_start"], s["set_end"], event_id) for i, s in enumerate(slots)],
    )


async def sync_derived(tx: Session, event_id: int) -> None:
    """After any change to an event: its lineup's copy of start and visibility, its search documents."""
    await tx.execute(
        "UPDATE event_artists ea JOIN events e ON e.id = ea.event_id "
        "SET ea.start_utc = e.start_utc, ea.is_public = e.is_public WHERE ea.event_id = %s",
        (event_id,),
    )
    await search.refresh(tx, [event_id])


async def bus_payload(tx: Session, event_id: int) -> dict[str, Any]:
    """What calendar, email and Second Life consumers need without calling back."""
    admin = await find_admin(tx, event_id)
    assert admin is not None
    location = None
    if admin["location_id"] is not None:
        location = await tx.fetch_one("SELECT id, slug, name FROM locations WHERE id = %s", (admin["location_id"],))
    image = image_of(admin["image_media_id"])
    return {
        "id": admin["id"],
        "uid": admin["uid"],
        "slug": admin["slug"],
        "status": admin["status"],
        "start_utc": admin["start_utc"],
        "end_utc": admin["end_utc"],
        "timezone": admin["timezone"],
        "location": location,
        "artists": [
            {
                "id": s["artist_id"],
                "slug": s["slug"],
                "name": s["name"],
                "position": s["position"],
                "set_start_utc": s["set_start_utc"],
                "set_end_utc": s["set_end_utc"],
            }
            for s in admin["lineup"]
        ],
        "translations": EVENTS.all_languages(admin),
        "sequence": admin["sequence"],
        "is_featured": admin["is_featured"],
        "image_url": image["url"] if image else None,
    }
