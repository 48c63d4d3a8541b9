"""What every blog query module shares besides translated tables (tdc_shared.translations):
UTC times in and out, and recognising a duplicate key."""

from __future__ import annotations

from datetime import UTC, datetime

from mysql.connector import errors as mysql_errors

DUPLICATE_KEY = 1062


def utc_now() -> datetime:
    """Now, as the naive UTC the DATETIME columns hold (sessions run at time_zone +00:00)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def utc_naive(value: datetime) -> datetime:
    """An aware time in UTC without its zone; a naive one is taken as UTC already."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def iso_utc(value: datetime | None) -> str | None:
    """The one time format of every answer: `2031-06-02T03:00:00Z`."""
    if value is None:
        return None
    return utc_naive(value).isoformat(timespec="seconds") + "Z"


def is_duplicate(exc: BaseException) -> bool:
    return isinstance(exc, mysql_errors.IntegrityError) and getattr(exc, "errno", None) == DUPLICATE_KEY
