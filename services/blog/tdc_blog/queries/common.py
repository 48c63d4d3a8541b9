"""SQL helpers every blog resource shares: translated tables (the catalog's pattern: English in
the base row, other languages field by field in a translations table), partial updates, times.

Table and column names here always come from constants in this package, never from a request;
values always travel as `%s` parameters. The f-strings below assemble SQL from those constants
only, hence their `noqa: S608`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mysql.connector import errors as mysql_errors

from tdc_shared.db import Session
from tdc_shared.envelope import Unprocessable
from tdc_shared.i18n import LANGUAGES

DUPLICATE_KEY = 1062


def translated(base: str, trans: str, field: str) -> str:
    """`COALESCE(NULLIF(t.f, ''), b.f)`: the translation, or English where it is missing or empty."""
    return f"COALESCE(NULLIF({trans}.{field}, ''), {base}.{field})"


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


async def update_row(tx: Session, table: str, row_id: int, changes: Mapping[str, Any]) -> None:
    if not changes:
        return
    assignments = ", ".join(f"{column} = %s" for column in changes)
    await tx.execute(
        f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608 -- names are this package's constants
        (*changes.values(), row_id),
    )


async def insert_row(tx: Session, table: str, values: Mapping[str, Any]) -> int:
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    return await tx.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608 -- names are this package's constants
        tuple(values.values()),
    )


async def upsert_translations(
    tx: Session, table: str, owner_column: str, owner_id: int, translations: Mapping[str, Mapping[str, Any]]
) -> None:
    """Set the fields sent for each language; fields not sent keep their value, null clears one."""
    for language, fields in translations.items():
        if not fields:
            continue
        columns = list(fields)
        names = ", ".join([owner_column, "language", *columns])
        marks = ", ".join(["%s"] * (len(columns) + 2))
        updates = ", ".join(f"{c} = VALUES({c})" for c in columns)
        await tx.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}",  # noqa: S608 -- constants
            (owner_id, language, *fields.values()),
        )


async def load_translations(
    tx: Session, table: str, owner_column: str, owner_ids: Iterable[int], fields: Sequence[str]
) -> dict[int, dict[str, dict[str, Any]]]:
    """{owner_id: {language: {field: value}}} as stored (no fallback), for admin views."""
    ids = list(owner_ids)
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    rows = await tx.fetch_all(
        f"SELECT {owner_column} AS owner, language, {', '.join(fields)} FROM {table} "  # noqa: S608 -- constants
        f"WHERE {owner_column} IN ({marks}) ORDER BY language",
        ids,
    )
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        owner = row.pop("owner")
        language = row.pop("language")
        out.setdefault(owner, {})[language] = row
    return out


def with_fallback(english: Mapping[str, Any], stored: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every language's text, each missing field taken from English (what readers see)."""
    result: dict[str, dict[str, Any]] = {}
    for language in LANGUAGES:
        own = stored.get(language, {})
        result[language] = {f: (own.get(f) or english.get(f)) for f in english}
    return result


def is_duplicate(exc: BaseException) -> bool:
    return isinstance(exc, mysql_errors.IntegrityError) and getattr(exc, "errno", None) == DUPLICATE_KEY


@dataclass(frozen=True)
class TranslatedTable:
    """A resource whose English text sits in its base row and whose other languages sit in a
    translations table keyed by (`owner`, language), field by field."""

    table: str
    translations: str
    owner: str  # the translations table's column pointing at `table.id`
    base_fields: tuple[str, ...]
    text_fields: tuple[str, ...]
    times: tuple[str, ...] = ("created_at", "updated_at")

    @property
    def admin_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.base_fields, *self.text_fields)))

    def public_select(self, alias: str, columns: Sequence[str] | None = None) -> str:
        """`SELECT` base columns and the texts in the language bound to the first `%s`, English where missing."""
        base = ", ".join(f"{alias}.{c}" for c in (columns or self.base_fields))
        texts = ", ".join(f"{translated(alias, 't', f)} AS {f}" for f in self.text_fields)
        return (
            f"SELECT {base}, {texts} FROM {self.table} {alias} "  # noqa: S608 -- constants
            f"LEFT JOIN {self.translations} t ON t.{self.owner} = {alias}.id AND t.language = %s"
        )

    async def admin_rows(self, tx: Session, tail: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as staff edit them (stored text, no fallback), each with its `translations`;
        `tail` (WHERE/ORDER BY/LIMIT) is SQL written in this package."""
        rows = await tx.fetch_all(
            f"SELECT {', '.join(self.admin_columns)} FROM {self.table} {tail}",  # noqa: S608 -- constants
            params,
        )
        translations = await load_translations(
            tx, self.translations, self.owner, [r["id"] for r in rows], self.text_fields
        )
        for row in rows:
            for name in self.times:
                row[name] = iso_utc(row[name])
            row["translations"] = translations.get(row["id"], {})
        return rows

    async def find_admin(self, tx: Session, row_id: int) -> dict[str, Any] | None:
        rows = await self.admin_rows(tx, "WHERE id = %s", (row_id,))
        return rows[0] if rows else None

    async def create(self, tx: Session, values: Mapping[str, Any]) -> int:
        return await insert_row(tx, self.table, values)

    async def update(self, tx: Session, row_id: int, changes: Mapping[str, Any]) -> None:
        await update_row(tx, self.table, row_id, changes)

    async def set_translations(self, tx: Session, row_id: int, translations: dict[str, dict[str, Any]]) -> None:
        """`en` edits the base row (English is the fallback text); the others upsert their row."""
        english = translations.pop("en", None)
        if english:
            await update_row(tx, self.table, row_id, english)
        await upsert_translations(tx, self.translations, self.owner, row_id, translations)

    async def delete(self, tx: Session, row_id: int) -> None:
        await tx.execute(f"DELETE FROM {self.table} WHERE id = %s", (row_id,))  # noqa: S608 -- constants

    async def slug_taken(self, tx: Session, slug: str, row_id: int | None = None) -> bool:
        existing = await tx.fetch_value(f"SELECT id FROM {self.table} WHERE slug = %s", (slug,))  # noqa: S608
        return existing is not None and existing != row_id

    async def ensure_slug_free(self, tx: Session, slug: str | None, row_id: int | None = None) -> None:
        if slug is not None and await self.slug_taken(tx, slug, row_id):
            raise Unprocessable(errors={"slug": ["already taken"]})

    def all_languages(self, admin: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """An admin row's texts in every language, English filling the gaps."""
        return with_fallback({f: admin[f] for f in self.text_fields}, admin["translations"])
