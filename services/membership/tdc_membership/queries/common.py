"""What every query module shares: UTC times in and out, LIKE patterns, a text in one language
(translation tables themselves are tdc_shared.translations')."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mysql.connector import errors as mysql_errors

DUPLICATE_KEY = 1062


def utc_now() -> datetime:
    """Now, as the naive UTC the database sessions use (time_zone +00:00)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_in(seconds: float) -> datetime:
    return utc_now() + timedelta(seconds=seconds)


def iso_utc(value: datetime | None) -> str | None:
    """The one time format of every answer: UTC ISO 8601 with seconds and `Z`."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def is_duplicate(exc: BaseException) -> bool:
    return isinstance(exc, mysql_errors.IntegrityError) and getattr(exc, "errno", None) == DUPLICATE_KEY


def in_language(
    stored: Mapping[str, Mapping[str, Any]], language: str, fields: Sequence[str], base: Mapping[str, Any]
) -> dict[str, Any]:
    """The texts in `language`, field by field falling back to English, then to `base`."""
    own, english = stored.get(language, {}), stored.get("en", {})
    return {f: own.get(f) or english.get(f) or base.get(f) for f in fields}
