"""SQL helpers every resource shares (translated tables are tdc_shared.translations'): images,
LIKE patterns, times, existence checks.

Table and column names here always come from constants in this package, never from a
request; values always travel as `%s` parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mysql.connector import errors as mysql_errors

from tdc_shared.db import Session
from tdc_shared.envelope import Unprocessable
from tdc_shared.timefmt import utc_iso_or_none

MEDIA_VARIANTS: tuple[str, ...] = ("thumb", "medium", "large")
DUPLICATE_KEY = 1062


def json_object(fields: Sequence[tuple[str, str]]) -> str:
    """`JSON_OBJECT('name', expression, ...)` from (name, SQL expression) pairs written in code."""
    return "JSON_OBJECT(" + ", ".join(f"'{name}', {expression}" for name, expression in fields) + ")"


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def iso_utc(value: datetime | None) -> str | None:
    """The API's one time format (tdc_shared.timefmt): seconds, UTC, `Z`."""
    return utc_iso_or_none(value)


def utc_naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def image_of(media_id: int | None) -> dict[str, Any] | None:
    if media_id is None:
        return None
    url = f"/api/v1/media/{media_id}"
    return {"id": media_id, "url": url, "variants": {v: f"{url}/{v}" for v in MEDIA_VARIANTS}}


async def ensure_exists(tx: Session, table: str, row_id: int | None, field: str) -> None:
    if row_id is None:
        return
    found = await tx.fetch_value(f"SELECT 1 FROM {table} WHERE id = %s", (row_id,))  # noqa: S608 - table/column names from this package's constants and request models' declared fields; values are parameters
    if not found:
        raise Unprocessable(errors={field: [f"no such {table.rstrip('s')} {row_id}"]})


def is_duplicate(exc: BaseException) -> bool:
    return isinstance(exc, mysql_errors.IntegrityError) and getattr(exc, "errno", None) == DUPLICATE_KEY
