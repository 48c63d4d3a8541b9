"""The service's clock: UTC, naive as the database stores DATETIME(6) in a +00:00 session.

Everything that compares with "now" (due reminders, retries, leases, token expiry) asks a
`Clock`, so tests can move time forward instead of sleeping for hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with seconds and a Z: 2026-12-01T19:00:00Z."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def parse_utc(value: str | None) -> datetime | None:
    """An ISO 8601 time from an event payload, as naive UTC; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
