"""SQL for staff profiles and their translated bios."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import TranslatedTable

from .common import image_of

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
STAFF = TranslatedTable("staff", "staff_translations", "staff_id", BASE_FIELDS, TEXT_FIELDS, booleans=("is_active",))
_PUBLIC_SELECT = STAFF.public_select("s", ("id", "slug", "name", "sl_avatar_name", "image_media_id"))


async def list_public(tx: Session, lang: str) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(_PUBLIC_SELECT + " WHERE s.is_active = 1 ORDER BY s.sort_order, s.name", (lang,))
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


async def list_admin(tx: Session) -> list[dict[str, Any]]:
    return await STAFF.admin_rows(tx, "ORDER BY sort_order, name")


find_admin = STAFF.find_admin
create = STAFF.create
update = STAFF.update
set_translations = STAFF.set_translations
delete = STAFF.delete
