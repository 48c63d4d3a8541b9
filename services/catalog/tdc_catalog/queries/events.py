"""SQL for events, their translations and lineups, and the shapes built from them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tdc_shared.db import Session
from tdc_shared.pagination import PageRequest

from .common import TranslatedTable, image_of, iso_utc, like_pattern, translated_columns

TEXT_FIELDS = ("title", "subtitle", "description")
PUBLIC_STATUSES = ("published", "cancelled")
# Which status an event may move to from each status.
TRANSITIONS = {"draft": ("published",), "published": ("cancelled",), "cancelled": ()}

_SELECT = (
    "SELECT e.id, e.uid, e.slug, e.status, e.start_utc, e.end_utc, e.timezone, e.is_featured, "
    "e.image_media_id, e.sequence, e.created_at, e.updated_at, "
    f"{translated_columns('e', 't', TEXT_FIELDS)}, "
    "l.id AS location_id, l.slug AS location_slug, l.mood_category AS location_mood, "
    "COALESCE(NULLIF(lt.name, ''), l.name) AS location_name, "
    # The lineup rides along as one JSON text per event: one round trip and a few rows
    # instead of a row per artist (JSON_ARRAYAGG: MySQL 5.7.22+, MariaDB 10.5+; MySQL cannot
    # order inside it, so Python sorts by position). `%S`, not `%s`: the driver takes every
    # `%s` for a parameter and has no escape for it.
    "(SELECT JSON_ARRAYAGG(JSON_OBJECT("
    "'position', ea.position, "
    "'set_start_utc', DATE_FORMAT(ea.set_start_utc, '%Y-%m-%dT%H:%i:%SZ'), "
    "'set_end_utc', DATE_FORMAT(ea.set_end_utc, '%Y-%m-%dT%H:%i:%SZ'), "
    "'id', a.id, 'slug', a.slug, 'name', a.name, 'genre', a.genre, 'image_media_id', a.image_media_id)) "
    "FROM event_artists ea JOIN artists a ON a.id = ea.artist_id WHERE ea.event_id = e.id) AS lineup_json "
    "FROM events e JOIN locations l ON l.id = e.location_id "
    "LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = %s "
    "LEFT JOIN location_translations lt ON lt.location_id = l.id AND lt.language = %s "
)


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


def lineup_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    raw = row.get("lineup_json")
    if not raw:
        return []
    slots = json.loads(raw)
    slots.sort(key=lambda slot: slot["position"])
    return [
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
        for slot in slots
    ]


def to_public(row: dict[str, Any], lineup: list[dict[str, Any]] | None = None) -> dict[str, Any]:
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
        "lineup": lineup_of(row) if lineup is None else lineup,
        "ics_url": f"/api/v1/events/{row['slug']}.ics",
    }


async def select_public(
    tx: Session, lang: str, filters: Filters, limit: int | None = None, offset: int = 0, *, with_total: bool = False
) -> list[dict[str, Any]]:
    """Rows with their translated texts (no lineup): what the lists and the ICS feeds share.

    `with_total` adds `total_rows` (a window count: MySQL 8 and MariaDB 10.2+), which saves the
    separate COUNT round trip on every list page.
    """
    where, params = filters.where(utc_now())
    select = _SELECT.replace("SELECT ", "SELECT COUNT(*) OVER () AS total_rows, ", 1) if with_total else _SELECT
    sql = select + where + " ORDER BY e.start_utc, e.id"
    args: list[Any] = [lang, lang, *params]
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        args += [limit, offset]
    return await tx.fetch_all(sql, args)


async def list_public(tx: Session, lang: str, page: PageRequest, filters: Filters) -> tuple[list[dict[str, Any]], int]:
    rows = await select_public(tx, lang, filters, page.limit, page.offset, with_total=True)
    if rows:
        total = rows[0]["total_rows"]
    else:  # past the last page: the window had no row to ride on
        where, params = filters.where(utc_now())
        join = "LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = %s " if filters.q else ""
        args = [lang, *params] if filters.q else params
        total = await tx.fetch_value(f"SELECT COUNT(*) FROM events e {join}{where}", args)
    return [to_public(r) for r in rows], int(total or 0)


async def find_public_row(tx: Session, slug: str, lang: str) -> dict[str, Any] | None:
    marks = ", ".join(["%s"] * len(PUBLIC_STATUSES))
    return await tx.fetch_one(
        _SELECT + f" WHERE e.slug = %s AND e.status IN ({marks})", (lang, lang, slug, *PUBLIC_STATUSES)
    )


# -- staff side ----------------------------------------------------------------------------------

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
    return await tx.fetch_one(f"SELECT {', '.join(ADMIN_FIELDS)} FROM events WHERE id = %s{suffix}", (event_id,))


async def admin_rows(tx: Session, tail: str, params: list[Any] | tuple[Any, ...]) -> list[dict[str, Any]]:
    """Events as staff edit them, with translations and lineups: three queries for any number."""
    rows = await EVENTS.admin_rows(tx, tail, params)
    if not rows:
        return rows
    marks = ", ".join(["%s"] * len(rows))
    slots = await tx.fetch_all(
        "SELECT ea.event_id, ea.artist_id, ea.position, ea.set_start_utc, ea.set_end_utc, a.slug, a.name "
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


async def set_lineup(tx: Session, event_id: int, slots: list[dict[str, Any]]) -> None:
    await tx.execute("DELETE FROM event_artists WHERE event_id = %s", (event_id,))
    await tx.execute_many(
        "INSERT INTO event_artists (event_id, artist_id, position, set_start_utc, set_end_utc) "
        "VALUES (%s, %s, %s, %s, %s)",
        [(event_id, s["artist_id"], i + 1, s["set_start"], s["set_end"]) for i, s in enumerate(slots)],
    )


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
