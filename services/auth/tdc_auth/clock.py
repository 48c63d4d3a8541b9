"""UTC times as the database stores them (naive DATETIME(6) in a +00:00 session) and as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def later(seconds: int) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
