"""SQL for what the public reads of events: lists, one event, lineups, and the shapes built from them.

What staff write and read (drafts, translations, lineups, status changes, bus payloads) is in
admin_events.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tdc_shared.db import Session
from tdc_shared.pagination import PageRequest

from .common import image_of, iso_utc, json_object, like_pattern, translated

TEXT_FIELDS = ("title", "subtitle", "description")
PUBLIC_STATUSES = ("published", "cancelled")

# Public reads come back as JSON built by the server. The async driver spends ~20 us of Python
# per result packet (every row, and every column on each execute), so reading 20 events as 16
# columns with a JSON_ARRAYAGG subquery per lineup took ~2.5 ms of Python and ~3 ms of server;
# one JSON column per event plus one JSON row for all the page's lineups take ~1 ms and ~2 ms.
# `%S`, not `%s`, in DATE_FORMAT: the driver takes every `%s` for a parameter.
_TIME = "DATE_FORMAT({}, '%Y-%m-%dT%H:%i:%S.%f')"  # naive UTC, back to datetime in `_event_row`
_PUBLIC_FIELDS = (
    ("id", "e.id"),
    ("slug", "e.slug"),
    ("status", "e.status"),
    ("start_utc", _TIME.format("e.start_utc")),
    ("end_utc", _TIME.format("e.end_utc")),
    ("timezone", "e.timezone"),
    ("is_featured", "e.is_featured"),
    ("image_media_id", "e.image_media_id"),
    *((f, translated("e", "t", f)) for f in TEXT_FIELDS),
    ("location_id", "l.id"),
    ("location_slug", "l.slug"),
    ("location_mood", "l.mood_category"),
    ("location_name", translated("l", "lt", "name")),
)
# What calendar files add: the identity and revision clients track.
_CALENDAR_FIELDS = (
    ("uid", "e.uid"),
    ("sequence", "e.sequence"),
    ("created_at", _TIME.format("e.created_at")),
    ("updated_at", _TIME.format("e.updated_at")),
)
_PUBLIC_TIMES = ("start_utc", "end_utc", "created_at", "updated_at")
_FROM = (
    " FROM events e JOIN locations l ON l.id = e.location_id "
    "LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = %s "
    "LEFT JOIN location_translations lt ON lt.location_id = l.id AND lt.language = %s "
)
_SLOT_FIELDS = (
    ("event_id", "ea.event_id"),
    ("position", "ea.position"),
    ("set_start_utc", "DATE_FORMAT(ea.set_start_utc, '%Y-%m-%dT%H:%i:%SZ')"),
    ("set_end_utc", "DATE_FORMAT(ea.set_end_utc, '%Y-%m-%dT%H:%i:%SZ')"),
    ("id", "a.id"),
    ("slug", "a.slug"),
    ("name", "a.name"),
    ("genre", "a.genre"),
    ("image_media_id", "a.image_media_id"),
)
_SLOTS_FROM = " FROM event_artists ea JOIN artists a ON a.id = ea.artist_id WHERE ea.event_id IN ({marks})"
# MySQL cannot order inside JSON_ARRAYAGG, so Python sorts. MariaDB cuts the aggregate at
# group_concat_max_len (1 MiB by default), hence the count: a short list is read again row by row.
_LINEUPS = f"SELECT COUNT(*) AS slots, JSON_ARRAYAGG({json_object(_SLOT_FIELDS)}) AS lineups" + _SLOTS_FROM
_LINEUP_ROWS = "SELECT " + ", ".join(f"{expression} AS {name}" for name, expression in _SLOT_FIELDS) + _SLOTS_FROM


@dataclass(frozen=True)
class Filters:
    location_id: int | None = None
    artist_id: int | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    q: str | None = None
    featured: bool | None = None
    ended_since: datetime | None = None

    def where(self, now: datetime) -> tuple[str, list[Any]]:
        marks = ", ".join(["%s"] * len(PUBLIC_STATUSES))
        clauses = [f"e.status IN ({marks})"]
        params: list[Any] = list(PUBLIC_STATUSES)
        if self.start_from is not None:
            clauses.append("e.start_utc >= %s")
            params.append(self.start_from)
        else:  # upcoming by default: what has not ended yet
            clauses.append("e.end_utc >= %s")
            params.append(self.ended_since or now)
        if self.start_to is not None:
            clauses.append("e.start_utc < %s")
            params.append(self.start_to)
        if self.location_id is not None:
            clauses.append("e.location_id = %s")
            params.append(self.location_id)
        if self.artist_id is not None:
            clauses.append("EXISTS (SELECT 1 FROM event_artists ea WHERE ea.event_id = e.id AND ea.artist_id = %s)")
            params.append(self.artist_id)
        if self.q:
            clauses.append("(t.title LIKE %s OR e.title LIKE %s)")
            params += [like_pattern(self.q)] * 2
        if self.featured is not None:
            clauses.append("e.is_featured = %s")
            params.append(int(self.featured))
        return " WHERE " + " AND ".join(clauses), params


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def recent_past(days: int = 30) -> datetime:
    """How far back the calendar feeds reach, so clients see recent cancellations too."""
    return utc_now() - timedelta(days=days)


def to_utc(value: datetime, zone: str) -> datetime:
    """A naive time is wall-clock time in the event's zone; the database keeps naive UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC).replace(tzinfo=None)


def local_iso(value: datetime | None, zone: str) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


async def lineups(tx: Session, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """{event_id: lineup in position order} for every event given, in one query."""
    if not event_ids:
        return {}
    marks = ", ".join(["%s"] * len(event_ids))
    found = await tx.fetch_one(_LINEUPS.format(marks=marks), event_ids)
    slots = _whole_list(found["lineups"], found["slots"]) if found else []
    if slots is None:
        slots = await tx.fetch_all(_LINEUP_ROWS.format(marks=marks), event_ids)
    slots.sort(key=lambda slot: (slot["event_id"], slot["position"]))
    out: dict[int, list[dict[str, Any]]] = {}
    for slot in slots:
        out.setdefault(slot["event_id"], []).append(
            {
                "position": slot["position"],
                "set_start_utc": slot["set_start_utc"],
                "set_end_utc": slot["set_end_utc"],
                "artist": {
                    "id": slot["id"],
                    "slug": slot["slug"],
                    "name": slot["name"],
                    "genre": slot["genre"],
                    "image": image_of(slot["image_media_id"]),
                },
            }
        )
    return out


def _whole_list(raw: str | None, count: int) -> list[dict[str, Any]] | None:
    """The aggregated slots, or None when the server cut the aggregate short."""
    if not count:
        return []
    try:
        slots = json.loads(raw or "")
    except ValueError:
        return None
    return slots if len(slots) == count else None


def _event_row(row: dict[str, Any]) -> dict[str, Any]:
    """A public event from its JSON column, times back to naive UTC datetimes."""
    event = json.loads(row.pop("event"))
    for name in _PUBLIC_TIMES:
        if event.get(name):
            event[name] = datetime.fromisoformat(event[name])
    event.update(row)
    return event


def to_public(row: dict[str, Any], lineup: list[dict[str, Any]]) -> dict[str, Any]:
    zone = row["timezone"]
    return {
        "id": row["id"],
        "slug": row["slug"],
        "status": row["status"],
        "title": row["title"],
        "subtitle": row["subtitle"],
        "description": row["description"],
        "start_utc": iso_utc(row["start_utc"]),
        "end_utc": iso_utc(row["end_utc"]),
        "timezone": zone,
        "start_local": local_iso(row["start_utc"], zone),
        "end_local": local_iso(row["end_utc"], zone),
        "is_featured": bool(row["is_featured"]),
        "image": image_of(row["image_media_id"]),
        "location": {
            "id": row["location_id"],
            "slug": row["location_slug"],
            "name": row["location_name"],
            "mood_category": row["location_mood"],
        },
        "lineup": lineup,
        "ics_url": f"/api/v1/events/{row['slug']}.ics",
    }


async def select_public(
    tx: Session,
    lang: str,
    filters: Filters,
    limit: int | None = None,
    offset: int = 0,
    *,
    with_total: bool = False,
    for_calendar: bool = False,
) -> list[dict[str, Any]]:
    """Rows with their translated texts (no lineup): what the lists and the ICS feeds share.

    `with_total` adds `total_rows` (a window count: MySQL 8 and MariaDB 10.2+), which saves the
    separate COUNT round trip on every list page.
    """
    where, params = filters.where(utc_now())
    fields = _PUBLIC_FIELDS + _CALENDAR_FIELDS if for_calendar else _PUBLIC_FIELDS
    total = "COUNT(*) OVER () AS total_rows, " if with_total else ""
    sql = f"SELECT {total}{json_object(fields)} AS event" + _FROM + where + " ORDER BY e.start_utc, e.id"
    args: list[Any] = [lang, lang, *params]
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        args += [limit, offset]
    return [_event_row(r) for r in await tx.fetch_all(sql, args)]


async def list_public(tx: Session, lang: str, page: PageRequest, filters: Filters) -> tuple[list[dict[str, Any]], int]:
    rows = await select_public(tx, lang, filters, page.limit, page.offset, with_total=True)
    if rows:
        total = rows[0]["total_rows"]
    else:  # past the last page: the window had no row to ride on
        where, params = filters.where(utc_now())
        join = "LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = %s " if filters.q else ""
        args = [lang, *params] if filters.q else params
        total = await tx.fetch_value(f"SELECT COUNT(*) FROM events e {join}{where}", args)  # noqa: S608 - join and WHERE of fixed clauses; values are parameters
    slots = await lineups(tx, [r["id"] for r in rows])
    return [to_public(r, slots.get(r["id"], [])) for r in rows], int(total or 0)


# The tables a list filter may name by slug.
_SLUG_FILTER_TABLES = frozenset({"locations", "artists"})


async def active_id_by_slug(tx: Session, table: str, slug: str) -> int | None:
    """The id of the active location or artist with this slug (a list filter), or None."""
    if table not in _SLUG_FILTER_TABLES:
        raise ValueError(f"not a filter table: {table}")
    found = await tx.fetch_value(f"SELECT id FROM {table} WHERE slug = %s AND is_active = 1", (slug,))  # noqa: S608 - table from _SLUG_FILTER_TABLES
    return None if found is None else int(found)


async def find_public_row(tx: Session, slug: str, lang: str) -> dict[str, Any] | None:
    """One public event's row (calendar columns included) with its `lineup`."""
    marks = ", ".join(["%s"] * len(PUBLIC_STATUSES))
    found = await tx.fetch_one(
        f"SELECT {json_object(_PUBLIC_FIELDS + _CALENDAR_FIELDS)} AS event"
        + _FROM
        + f"WHERE e.slug = %s AND e.status IN ({marks})",
        (lang, lang, slug, *PUBLIC_STATUSES),
    )
    if found is None:
        return None
    row = _event_row(found)
    row["lineup"] = (await lineups(tx, [row["id"]])).get(row["id"], [])
    return row
