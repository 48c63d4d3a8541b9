"""iCalendar (RFC 5545) documents for events, built with the `icalendar` library.

UID is the event's `uid` column, fixed at creation, so a rescheduled event updates the entry
calendar clients already hold; SEQUENCE is the event's revision counter; DTSTAMP and
LAST-MODIFIED are the row's last change in UTC (stable, so the feed bytes can be cached).
Start and end are written in the event's own zone with a VTIMEZONE built from zoneinfo.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

PRODID = "-//The Dreamer's Cave//Catalog//EN"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _event(row: dict[str, Any], lineup: list[dict[str, Any]], site_url: str) -> Event:
    zone = ZoneInfo(row["timezone"])
    item = Event()
    item.add("uid", f"{row['uid']}@dreamerscave")
    item.add("sequence", int(row["sequence"]))
    item.add("dtstamp", _utc(row["updated_at"]))
    item.add("created", _utc(row["created_at"]))
    item.add("last-modified", _utc(row["updated_at"]))
    item.add("dtstart", _utc(row["start_utc"]).astimezone(zone))
    item.add("dtend", _utc(row["end_utc"]).astimezone(zone))
    item.add("summary", row["title"] or row["slug"])
    description = [row["subtitle"] or "", row["description"] or ""]
    if lineup:
        description.append("Lineup: " + ", ".join(slot["artist"]["name"] for slot in lineup))
    text = "\n\n".join(part for part in description if part)
    if text:
        item.add("description", text)
    item.add("location", row["location_name"])
    item.add("status", "CANCELLED" if row["status"] == "cancelled" else "CONFIRMED")
    item.add("url", f"{site_url}/api/v1/events/{row['slug']}")
    return item


def calendar(
    rows: Iterable[dict[str, Any]], lineups: dict[int, list[dict[str, Any]]], *, name: str, site_url: str = ""
) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for row in rows:
        cal.add_component(_event(row, lineups.get(row["id"], []), site_url))
    cal.add_missing_timezones()
    return cal.to_ical()
