"""SQL for exclusive items and their translations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import load_translations, upsert_translations

from .common import iso_utc

TEXT_FIELDS = ("title", "summary", "body")
# Columns a request may set (the routes' bodies name no others).
WRITABLE = ("kind", "title", "summary", "body", "url", "required_tier_id", "is_published", "sort_order")
_SELECT = (
    "SELECT e.id, e.kind, e.title, e.summary, e.body, e.url, e.required_tier_id, e.is_published, e.sort_order,"
    " e.file_key, e.file_name, e.file_type, e.file_size, e.created_at, e.updated_at,"
    " t.amount_cents AS required_cents FROM exclusive_items e LEFT JOIN tiers t ON t.id = e.required_tier_id"
)


async def _rows(tx: Session, where: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    # `where` is SQL text written in this module.
    rows = await tx.fetch_all(_SELECT + where + " ORDER BY e.sort_order, e.id", params)
    translations = await load_translations(
        tx, "exclusive_item_translations", "item_id", [r["id"] for r in rows], TEXT_FIELDS
    )
    for row in rows:
        row["translations"] = translations.get(row["id"], {})
    return rows


async def list_published(tx: Session) -> list[dict[str, Any]]:
    return await _rows(tx, " WHERE e.is_published = 1")


async def find_published(tx: Session, item_id: int) -> dict[str, Any] | None:
    rows = await _rows(tx, " WHERE e.id = %s AND e.is_published = 1", (item_id,))
    return rows[0] if rows else None


async def find(tx: Session, item_id: int) -> dict[str, Any] | None:
    rows = await _rows(tx, " WHERE e.id = %s", (item_id,))
    return rows[0] if rows else None


async def list_all(tx: Session) -> list[dict[str, Any]]:
    return await _rows(tx, "")


def texts(row: dict[str, Any], language: str) -> dict[str, Any]:
    """Our texts in `language`: the base row is English, translations fill the others."""
    own = row["translations"].get(language, {})
    return {f: own.get(f) or row[f] for f in TEXT_FIELDS}


def admin_shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "title": row["title"],
        "summary": row["summary"],
        "body": row["body"],
        "url": row["url"],
        "required_tier_id": row["required_tier_id"],
        "required_cents": row["required_cents"],
        "is_published": bool(row["is_published"]),
        "sort_order": row["sort_order"],
        "file": (
            {"name": row["file_name"], "content_type": row["file_type"], "size": row["file_size"]}
            if row["file_key"]
            else None
        ),
        "translations": row["translations"],
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


async def create(tx: Session, values: Mapping[str, Any]) -> int:
    columns = [c for c in WRITABLE if c in values]
    return await tx.execute(
        f"INSERT INTO exclusive_items ({', '.join(columns)}) "  # noqa: S608, RUF100 (column names from WRITABLE)
        f"VALUES ({', '.join(['%s'] * len(columns))})",
        tuple(values[c] for c in columns),
    )


async def update(tx: Session, item_id: int, changes: Mapping[str, Any]) -> None:
    columns = [c for c in WRITABLE if c in changes]
    if not columns:
        return
    await tx.execute(
        f"UPDATE exclusive_items SET {', '.join(f'{c} = %s' for c in columns)} WHERE id = %s",  # noqa: S608, RUF100 (WRITABLE)
        (*(changes[c] for c in columns), item_id),
    )


async def set_translations(tx: Session, item_id: int, translations: dict[str, dict[str, Any]]) -> None:
    english = translations.pop("en", None)
    if english:
        await update(tx, item_id, english)
    await upsert_translations(tx, "exclusive_item_translations", "item_id", item_id, translations, TEXT_FIELDS)


async def set_file(
    tx: Session, item_id: int, key: str | None, name: str | None, content_type: str | None, size: int | None
) -> None:
    await tx.execute(
        "UPDATE exclusive_items SET file_key = %s, file_name = %s, file_type = %s, file_size = %s WHERE id = %s",
        (key, name, content_type, size, item_id),
    )


async def delete(tx: Session, item_id: int) -> None:
    await tx.execute("DELETE FROM exclusive_items WHERE id = %s", (item_id,))


async def count(tx: Session) -> dict[str, int]:
    row = await tx.fetch_one(
        "SELECT COUNT(*) AS total, COALESCE(SUM(is_published), 0) AS published FROM exclusive_items"
    )
    return {"total": int(row["total"]) if row else 0, "published": int(row["published"]) if row else 0}
