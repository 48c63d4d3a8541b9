"""The one time format of every answer: UTC, to the second, with `Z` (`2026-12-01T19:00:00Z`).

The database keeps naive UTC DATETIMEs (the session runs at +00:00), so a naive value is UTC;
an aware one is converted. The JSON encoder of `tdc_shared.envelope` writes any `datetime` it
meets this way, so a route may hand over datetimes as they come from a query. The only other
shape in an answer is a wall-clock time in a named zone for display (`*_local` fields, with
their UTC offset): that is `local_iso`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

UTC_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LOCAL_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_iso(value: datetime) -> str:
    """`2026-12-01T19:00:00Z`: microseconds dropped, never rounded up into the next second."""
    return _as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else utc_iso(value)


def local_iso(value: datetime, zone: str) -> str:
    """Wall-clock time in `zone` with its offset (`2026-12-01T11:00:00-08:00`), for display fields."""
    return _as_utc(value).astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")
