"""SQL for what the public reads of events: lists, one event, lineups, and the shapes built from them.

What staff write and read (drafts, translations, lineups, status changes, bus payloads) is in
admin_events.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tdc_shared.db import Session
from tdc_shared.pagination import ListRequest, capped_count, cursor_int, keyset_after, keyset_page, keyset_params
from tdc_shared.translations import translated

from . import search
from .common import image_of, iso_utc, json_object

TEXT_FIELDS = ("title", "subtitle", "description")
PUBLIC_STATUSES = ("published", "cancelled")  # events.is_public (migrations/0007)

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


# Events last at most this long (staff writes refuse longer ones), so "not ended yet" is also
# "started at most this long ago": the bound that lets a start-ordered index skip the past.
MAX_EVENT_DURATION = timedelta(days=7)
# How far ahead and back the calendar feed reaches by default, how wide a window `?from=`/`?to=`
# may ask for, and how many events one feed holds at most.
CALENDAR_AHEAD = timedelta(days=180)
CALENDAR_BACK = timedelta(days=30)
CALENDAR_MAX_WINDOW = timedelta(days=400)
CALENDAR_MAX_EVENTS = 300
# At most this many of a default feed's events are past ones (the most recent), so a busy
# month never crowds out what is coming.
CALENDAR_MAX_PAST = 60

LIST_SCOPE = "events"  # cursors of event lists (every filter shares the one sort key)


@dataclass(frozen=True)
class Filters:
    location_id: int | None = None
    artist_id: int | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    q: str | None = None  # a boolean-mode full-text query (search.boolean_query)
    language: str = "en"  # whose documents `q` searches
    featured: bool | None = None
    ended_since: datetime | None = None
    ended_before: datetime | None = None

    @property
    def _key(self) -> str:
        """The table whose (start_utc, id) the list is read in: the lineup for an artist's."""
        return "ea" if self.artist_id is not None else "e"

    @property
    def sort_columns(self) -> tuple[str, str]:
        return ("ea.start_utc", "ea.event_id") if self.artist_id is not None else ("e.start_utc", "e.id")

    def source(self, lang: str | None) -> tuple[str, list[Any]]:
        """FROM ... for the list (with translations when `lang` is given) and its parameters."""
        params: list[Any] = []
        if self.artist_id is not None:
            # The artist's slots in start order drive the read (ix_event_artists_artist_start).
            sql = " FROM event_artists ea STRAIGHT_JOIN events e ON e.id = ea.event_id "
        elif self.q is not None:
            # The matches first (a full-text lookup), then their events sorted by start.
            sql = (
                f" FROM (SELECT s.event_id FROM event_search s WHERE {search.match(self.language)}) m "  # noqa: S608
                "STRAIGHT_JOIN events e ON e.id = m.event_id "
            )
            params.append(self.q)
        else:
            sql = " FROM events e "
        if lang is not None:
            sql += (
                # STRAIGHT_JOIN: read events first, in index order; with locations first (a few
                # rows) the optimizer sorts every matching event ("Using temporary; filesort").
                "STRAIGHT_JOIN locations l ON l.id = e.location_id "
                "LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = %s "
                "LEFT JOIN location_translations lt ON lt.location_id = l.id AND lt.language = %s "
            )
            params += [lang, lang]
        return sql, params

    def where(self, now: datetime) -> tuple[str, list[Any]]:
        key = self._key
        clauses = [f"{key}.is_public = 1"]
        params: list[Any] = []
        if self.artist_id is not None:
            clauses.append("ea.artist_id = %s")
            params.append(self.artist_id)
            if self.q is not None:  # the artist's slots drive the read; the search filters them
                clauses.append(
                    f"EXISTS (SELECT 1 FROM event_search s WHERE s.event_id = e.id AND {search.match(self.language)})"  # noqa: S608
                )
                params.append(self.q)
        if self.start_from is not None:
            clauses.append(f"{key}.start_utc >= %s")
            params.append(self.start_from)
        else:  # upcoming by default: what has not ended yet
            ended_since = self.ended_since or now
            clauses += [f"{key}.start_utc >= %s", "e.end_utc >= %s"]
            params += [ended_since - MAX_EVENT_DURATION, ended_since]
        if self.ended_before is not None:
            clauses += [f"{key}.start_utc < %s", "e.end_utc < %s"]
            params += [self.ended_before, self.ended_before]
        if self.start_to is not None:
            clauses.append(f"{key}.start_utc < %s")
            params.append(self.start_to)
        if self.location_id is not None:
            clauses.append("e.location_id = %s")
            params.append(self.location_id)
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
    after: tuple[datetime, int] | None = None,
    descending: bool = False,
    for_calendar: bool = False,
) -> list[dict[str, Any]]:
    """Rows with their translated texts (no lineup) in start order: what the lists and feeds share.

    `after` continues a keyset list after that (start_utc, id). The sort matches an index for
    every filter (see migrations/0007), so a page reads `limit` rows, not the table.
    """
    source, params = filters.source(lang)
    where, where_params = filters.where(utc_now())
    params += where_params
    columns = filters.sort_columns
    if after is not None:
        where += " AND " + keyset_after(columns, descending=descending)
        params += keyset_params(after)
    direction = " DESC" if descending else ""
    order = " ORDER BY " + ", ".join(f"{c}{direction}" for c in columns)
    fields = _PUBLIC_FIELDS + _CALENDAR_FIELDS if for_calendar else _PUBLIC_FIELDS
    sql = f"SELECT {json_object(fields)} AS event" + source + where + order
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        params += [limit, offset]
    return [_event_row(r) for r in await tx.fetch_all(sql, params)]


async def count_public(tx: Session, filters: Filters) -> tuple[int, bool]:
    """(total, exact): the list's length, counted up to COUNT_CAP rows through the same index."""
    source, params = filters.source(None)
    where, where_params = filters.where(utc_now())
    return await capped_count(tx, "SELECT 1" + source + where, [*params, *where_params])


def sort_key(row: dict[str, Any]) -> tuple[str, int]:
    """An event list's cursor key: the stored start to the microsecond, and the id."""
    return (row["start_utc"].isoformat(timespec="microseconds"), row["id"])


def cursor_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a time")
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class EventList:
    items: list[dict[str, Any]]
    total: int
    total_exact: bool
    has_more: bool
    next_cursor: str | None


async def list_public(tx: Session, lang: str, request: ListRequest, filters: Filters) -> EventList:
    """One page (by offset or after a cursor), its capped total and the cursor to the next."""
    after = request.after(LIST_SCOPE, (cursor_time, cursor_int))
    rows = await select_public(tx, lang, filters, request.fetch, request.offset, after=after)
    page = keyset_page(rows, request, LIST_SCOPE, sort_key)
    if not page.has_more and not request.cursor and (page.items or request.offset == 0):
        total, exact = request.offset + len(page.items), True  # this page ends the list
    else:
        total, exact = await count_public(tx, filters)
    slots = await lineups(tx, [r["id"] for r in page.items])
    items = [to_public(r, slots.get(r["id"], [])) for r in page.items]
    return EventList(items, total, exact, page.has_more, page.next_cursor)


async def calendar_rows(tx: Session, lang: str, filters: Filters, window: bool) -> list[dict[str, Any]]:
    """The feed's events in start order, at most CALENDAR_MAX_EVENTS.

    `window`: the filters hold `?from=`/`?to=` and the feed is those events by start. Otherwise
    the feed is what has not ended and starts within CALENDAR_AHEAD, plus the most recent
    (at most CALENDAR_MAX_PAST) of those that ended within CALENDAR_BACK.
    """
    if window:
        return await select_public(tx, lang, filters, CALENDAR_MAX_EVENTS, for_calendar=True)
    now = utc_now()
    coming = replace(filters, start_to=now + CALENDAR_AHEAD)
    rows = await select_public(tx, lang, coming, CALENDAR_MAX_EVENTS, for_calendar=True)
    room = min(CALENDAR_MAX_PAST, CALENDAR_MAX_EVENTS - len(rows))
    if room <= 0:
        return rows
    past = replace(filters, ended_since=now - CALENDAR_BACK, ended_before=now)
    recent = await select_public(tx, lang, past, room, descending=True, for_calendar=True)
    return [*reversed(recent), *rows]


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
