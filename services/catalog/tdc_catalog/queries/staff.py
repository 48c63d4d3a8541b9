"""SQL for staff profiles and their translated bios."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session

from .common import (
    image_of,
    insert_row,
    iso_utc,
    load_translations,
    translated_columns,
    update_row,
    upsert_translations,
)

TEXT_FIELDS = ("role_title", "bio")
BASE_FIELDS = (
    "id",
    "slug",
    "name",
    "sl_avatar_name",
    "image_media_id",
    "sort_order",
    "is_active",
    "created_at",
    "updated_at",
)


async def list_public(tx: Session, lang: str) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(
        f"SELECT s.id, s.slug, s.name, s.sl_avatar_name, s.image_media_id, {translated_columns('s', 't', TEXT_FIELDS)} "
        "FROM staff s LEFT JOIN staff_translations t ON t.staff_id = s.id AND t.language = %s "
        "WHERE s.is_active = 1 ORDER BY s.sort_order, s.name",
        (lang,),
    )
    return [
        {
            "id": r["id"],
            "slug": r["slug"],
            "name": r["name"],
            "role_title": r["role_title"],
            "bio": r["bio"],
            "sl_avatar_name": r["sl_avatar_name"],
            "image": image_of(r["image_media_id"]),
        }
        for r in rows
    ]


async def find_admin(tx: Session, staff_id: int) -> dict[str, Any] | None:
    row = await tx.fetch_one(
        f"SELECT {', '.join(BASE_FIELDS)}, {', '.join(TEXT_FIELDS)} FROM staff WHERE id = %s", (staff_id,)
    )
    if row is None:
        return None
    translations = await load_translations(tx, "staff_translations", "staff_id", [staff_id], TEXT_FIELDS)
    row["is_active"] = bool(row["is_active"])
    row["created_at"] = iso_utc(row["created_at"])
    row["updated_at"] = iso_utc(row["updated_at"])
    row["translations"] = translations.get(staff_id, {})
    return row


async def create(tx: Session, values: dict[str, Any]) -> int:
    return await insert_row(tx, "staff", values)


async def update(tx: Session, staff_id: int, changes: dict[str, Any]) -> None:
    await update_row(tx, "staff", staff_id, changes)


async def set_translations(tx: Session, staff_id: int, translations: dict[str, dict[str, Any]]) -> None:
    english = translations.pop("en", None)
    if english:
        await update_row(tx, "staff", staff_id, english)
    await upsert_translations(tx, "staff_translations", "staff_id", staff_id, translations)


async def delete(tx: Session, staff_id: int) -> None:
    await tx.execute("DELETE FROM staff WHERE id = %s", (staff_id,))
