"""SQL for the staff dashboard's catalog section: counts, and the next published events."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import translated

from .admin_events import TRANSITIONS
from .common import iso_utc
from .events import utc_now

STATUSES: tuple[str, ...] = tuple(TRANSITIONS)
NEXT_EVENTS = 5
# Whole-table totals, inactive rows included: what staff manage, not what the public sees.
_TOTALS = ("artists", "locations", "staff", "media")

# One row for every count. COUNT of a CASE is 0, never NULL, when nothing matches (SUM is NULL
# on an empty table); column aliases come from the constants above, values are parameters.
_COUNTS = (
    "SELECT "  # noqa: S608 - table names from the constant _TOTALS
    + ", ".join(f"COUNT(CASE WHEN status = %s THEN 1 END) AS {status}" for status in STATUSES)
    + ", COUNT(CASE WHEN status = %s AND end_utc > %s THEN 1 END) AS upcoming, "
    + ", ".join(f"(SELECT COUNT(*) FROM {table}) AS {table}" for table in _TOTALS)  # noqa: S608 - table names from the constant _TOTALS
    + " FROM events"
)
# Texts as the public event routes read them (translation, else English). LEFT JOIN on the
# location, unlike the public lists: a dashboard must not hide an event that lost its venue.
_NEXT = (
    f"SELECT e.id, e.slug, {translated('e', 't', 'title')} AS title, e.start_utc, e.end_utc, "  # noqa: S608 - table names from the constant _TOTALS
    f"l.id AS location_id, {translated('l', 'lt', 'name')} AS location_name "
    "FROM events e "
    "LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = %s "
    "LEFT JOIN locations l ON l.id = e.location_id "
    "LEFT JOIN location_translations lt ON lt.location_id = l.id AND lt.language = %s "
    "WHERE e.status = %s AND e.end_utc > %s ORDER BY e.start_utc, e.id LIMIT %s"
)


async def summary(tx: Session, lang: str) -> dict[str, Any]:
    """Two queries on one session, so the counts and the list come from the same snapshot."""
    now = utc_now()
    counts = await tx.fetch_one(_COUNTS, (*STATUSES, "published", now))
    assert counts is not None  # an aggregate without GROUP BY always has its row
    rows = await tx.fetch_all(_NEXT, (lang, lang, "published", now, NEXT_EVENTS))
    return {
        "events": {
            "by_status": {status: int(counts[status]) for status in STATUSES},
            "upcoming": int(counts["upcoming"]),
        },
        "next_events": [_next_event(row) for row in rows],
        **{table: int(counts[table]) for table in _TOTALS},
    }


def _next_event(row: dict[str, Any]) -> dict[str, Any]:
    location = None
    if row["location_id"] is not None:
        location = {"id": row["location_id"], "name": row["location_name"]}
    return {
        "id": row["id"],
        "slug": row["slug"],
        "title": row["title"],
        # iso_utc, as the public event routes: "2031-06-02T03:00:00Z".
        "start_utc": iso_utc(row["start_utc"]),
        "end_utc": iso_utc(row["end_utc"]),
        "location": location,
    }
