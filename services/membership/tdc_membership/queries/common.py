"""What every query module shares: UTC times in and out, LIKE patterns, translations upserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mysql.connector import errors as mysql_errors

from tdc_shared.db import Session
from tdc_shared.i18n import LANGUAGES

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


def marks(count: int) -> str:
    return ", ".join(["%s"] * count)


async def upsert_translations(
    tx: Session,
    table: str,
    owner_column: str,
    owner_id: Any,
    fields: Sequence[str],
    translations: Mapping[str, Mapping[str, Any]],
) -> None:
    """Set the fields sent for each language; fields not sent keep their value, null clears one.

    `table`, `owner_column` and `fields` are constants of the calling module, never input;
    each field sent is checked against `fields` before it reaches the SQL text."""
    for language, values in translations.items():
        columns = [c for c in values if c in fields]
        if not columns:
            continue
        names = ", ".join([owner_column, "language", *columns])
        updates = ", ".join(f"{c} = VALUES({c})" for c in columns)
        await tx.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks(len(columns) + 2)}) "  # noqa: S608, RUF100 (constants only)
            f"ON DUPLICATE KEY UPDATE {updates}",
            (owner_id, language, *(values[c] for c in columns)),
        )


async def load_translations(
    tx: Session, table: str, owner_column: str, owner_ids: Iterable[Any], fields: Sequence[str]
) -> dict[Any, dict[str, dict[str, Any]]]:
    """{owner: {language: {field: value}}} as stored (no fallback), for admin views and events."""
    ids = list(owner_ids)
    if not ids:
        return {}
    rows = await tx.fetch_all(
        f"SELECT {owner_column} AS owner, language, {', '.join(fields)} FROM {table} "  # noqa: S608, RUF100 (constants only)
        f"WHERE {owner_column} IN ({marks(len(ids))}) ORDER BY language",
        ids,
    )
    out: dict[Any, dict[str, dict[str, Any]]] = {}
    for row in rows:
        owner = row.pop("owner")
        language = row.pop("language")
        out.setdefault(owner, {})[language] = row
    return out


def with_fallback(
    english: Mapping[str, Any], stored: Mapping[str, Mapping[str, Any]], fields: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Every language's texts, each missing field taken from `english` (what others display)."""
    return {
        language: {f: (stored.get(language, {}).get(f) or english.get(f)) for f in fields} for language in LANGUAGES
    }


def in_language(
    stored: Mapping[str, Mapping[str, Any]], language: str, fields: Sequence[str], base: Mapping[str, Any]
) -> dict[str, Any]:
    """The texts in `language`, field by field falling back to English, then to `base`."""
    own, english = stored.get(language, {}), stored.get("en", {})
    return {f: own.get(f) or english.get(f) or base.get(f) for f in fields}
