"""Translated tables: English in a resource's base row, the other languages field by field in a
translations table keyed by (owner id, language), each missing or empty field falling back to
English. The SQL for them, and the pieces of a request body that edit them.

Table and column names given to these helpers are always the calling package's constants (or
the declared fields of its request models), never text from a request; values always travel as
`%s` parameters. The f-strings below assemble SQL from those names only, hence their
`noqa: S608`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from .db import Session
from .envelope import Unprocessable
from .i18n import LANGUAGES
from .timefmt import utc_iso_or_none

# The languages of tdc_shared.i18n.LANGUAGES, as a type a request model can declare.
Language = Literal["en", "it", "fr", "es"]


# -- request bodies ----------------------------------------------------------------------------


class TranslationsBody(Protocol):
    """A `{"translations": {language: texts}}` body (each service declares its own model)."""

    @property
    def translations(self) -> Mapping[Any, BaseModel]: ...


def changes_of(body: BaseModel, not_null: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the client sent; a required column sent as null is a field error."""
    changes = body.model_dump(exclude_unset=True)
    nulls = {name: ["may not be null"] for name in not_null if name in changes and changes[name] is None}
    if nulls:
        raise Unprocessable(errors=nulls)
    return changes


def translations_of(body: TranslationsBody, english_not_null: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """{language: fields sent} from a `{"translations": {...}}` body; English is the base row,
    so its required columns may not be cleared."""
    translations = {str(lang): changes_of(text) for lang, text in body.translations.items()}
    if "en" in translations:
        changes_of(body.translations["en"], english_not_null)
    return translations


# -- SQL ---------------------------------------------------------------------------------------


def translated(base: str, trans: str, field: str) -> str:
    """`COALESCE(NULLIF(t.f, ''), b.f)`: the translation, or English where it is missing or empty."""
    return f"COALESCE(NULLIF({trans}.{field}, ''), {base}.{field})"


def translated_columns(base: str, trans: str, fields: Sequence[str]) -> str:
    """`COALESCE(NULLIF(t.f, ''), b.f) AS f, ...`: English field by field where a translation is missing."""
    return ", ".join(f"{translated(base, trans, f)} AS {f}" for f in fields)


async def update_row(tx: Session, table: str, row_id: int, changes: Mapping[str, Any]) -> None:
    if not changes:
        return
    assignments = ", ".join(f"{column} = %s" for column in changes)
    await tx.execute(
        f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608 - names are the caller's constants; values are parameters
        (*changes.values(), row_id),
    )


async def insert_row(tx: Session, table: str, values: Mapping[str, Any]) -> int:
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    return await tx.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608 - names are the caller's constants; values are parameters
        tuple(values.values()),
    )


async def upsert_translations(
    tx: Session,
    table: str,
    owner_column: str,
    owner_id: int | str,
    translations: Mapping[str, Mapping[str, Any]],
    fields: Sequence[str] | None = None,
) -> None:
    """Set the fields sent for each language; fields not sent keep their value, null clears one.
    With `fields`, only those columns are written (any other key is dropped before the SQL)."""
    for language, sent in translations.items():
        columns = [c for c in sent if fields is None or c in fields]
        if not columns:
            continue
        names = ", ".join([owner_column, "language", *columns])
        marks = ", ".join(["%s"] * (len(columns) + 2))
        updates = ", ".join(f"{c} = VALUES({c})" for c in columns)
        await tx.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {updates}",  # noqa: S608 - names are the caller's constants; values are parameters
            (owner_id, language, *(sent[c] for c in columns)),
        )


async def load_translations(
    tx: Session, table: str, owner_column: str, owner_ids: Iterable[Any], fields: Sequence[str]
) -> dict[Any, dict[str, dict[str, Any]]]:
    """{owner_id: {language: {field: value}}} as stored (no fallback), for admin views and events."""
    ids = list(owner_ids)
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    rows = await tx.fetch_all(
        f"SELECT {owner_column} AS owner, language, {', '.join(fields)} FROM {table} "  # noqa: S608 - names are the caller's constants; values are parameters
        f"WHERE {owner_column} IN ({marks}) ORDER BY language",
        ids,
    )
    out: dict[Any, dict[str, dict[str, Any]]] = {}
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


async def ensure_slug_free(tx: Session, table: str, slug: str | None, row_id: int | None = None) -> None:
    """A 422 on `slug` when another row of `table` has it already (none sent: nothing to check)."""
    if slug is None:
        return
    existing = await tx.fetch_value(f"SELECT id FROM {table} WHERE slug = %s", (slug,))  # noqa: S608 - names are the caller's constants; values are parameters
    if existing is not None and existing != row_id:
        raise Unprocessable(errors={"slug": ["already taken"]})


@dataclass(frozen=True)
class TranslatedTable:
    """A resource whose English text sits in its base row and whose other languages sit in a
    translations table keyed by (`owner`, language), field by field.

    Every name here is a constant of the calling package (they go into SQL text); a new
    translated resource is one of these plus its own public shape.
    """

    table: str
    translations: str
    owner: str  # the translations table's column pointing at `table.id`
    base_fields: tuple[str, ...]
    text_fields: tuple[str, ...]
    booleans: tuple[str, ...] = ()  # TINYINT columns answered as true/false
    times: tuple[str, ...] = ("created_at", "updated_at")  # DATETIME columns answered as UTC text

    @property
    def admin_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.base_fields, *self.text_fields)))

    def public_select(self, alias: str, columns: Sequence[str] | None = None) -> str:
        """`SELECT` base columns and the texts in the language bound to the first `%s`, English where missing."""
        base = ", ".join(f"{alias}.{c}" for c in (columns or self.base_fields))
        return (
            f"SELECT {base}, {translated_columns(alias, 't', self.text_fields)} FROM {self.table} {alias} "  # noqa: S608 - names are the caller's constants; values are parameters
            f"LEFT JOIN {self.translations} t ON t.{self.owner} = {alias}.id AND t.language = %s"
        )

    def normalise(self, row: dict[str, Any]) -> dict[str, Any]:
        for name in self.booleans:
            row[name] = bool(row[name])
        for name in self.times:
            row[name] = utc_iso_or_none(row[name])
        return row

    async def admin_rows(self, tx: Session, tail: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as staff edit them (stored text, no fallback), each with its `translations`, in two
        queries however many rows; `tail` (WHERE/ORDER BY/LIMIT) is SQL written in the caller."""
        rows = await tx.fetch_all(
            f"SELECT {', '.join(self.admin_columns)} FROM {self.table} {tail}",  # noqa: S608 - names and tail are the caller's constants; values are parameters
            params,
        )
        translations = await load_translations(
            tx, self.translations, self.owner, [r["id"] for r in rows], self.text_fields
        )
        for row in rows:
            self.normalise(row)
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
        await tx.execute(f"DELETE FROM {self.table} WHERE id = %s", (row_id,))  # noqa: S608 - names are the caller's constants; values are parameters

    async def ensure_slug_free(self, tx: Session, slug: str | None, row_id: int | None = None) -> None:
        await ensure_slug_free(tx, self.table, slug, row_id)

    def all_languages(self, admin: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """An admin row's texts in every language, English filling the gaps."""
        return with_fallback({f: admin[f] for f in self.text_fields}, admin["translations"])
