"""UTC times as the database stores them (naive DATETIME(6) in a +00:00 session) and as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tdc_shared.timefmt import utc_iso_or_none


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def later(seconds: int) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def iso(value: datetime | None) -> str | None:
    """The API's one time format (tdc_shared.timefmt): seconds, UTC, `Z`."""
    return utc_iso_or_none(value)
