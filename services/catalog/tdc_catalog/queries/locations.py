"""SQL for locations and their translations."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import TranslatedTable

from .common import image_of

TEXT_FIELDS = ("name", "tagline", "description", "architecture_notes", "atmosphere_notes")
BASE_FIELDS = (
    "id",
    "slug",
    "capacity",
    "slurl",
    "sort_order",
    "is_active",
    "mood_category",
    "primary_color",
    "secondary_color",
    "accent_color",
    "dark_color",
    "css_gradient",
    "mood_keywords",
    "image_media_id",
    "created_at",
    "updated_at",
)
LOCATIONS = TranslatedTable(
    "locations", "location_translations", "location_id", BASE_FIELDS, TEXT_FIELDS, booleans=("is_active",)
)
_PUBLIC_SELECT = LOCATIONS.public_select("l")


def keywords_in(value: list[str] | None) -> str | None:
    return ",".join(k.strip() for k in value if k.strip()) if value else None


def keywords_out(value: str | None) -> list[str]:
    return [k for k in value.split(",") if k] if value else []


def to_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "capacity": row["capacity"],
        "slurl": row["slurl"],
        "sort_order": row["sort_order"],
        "mood_category": row["mood_category"],
        "theme": {
            "primary_color": row["primary_color"],
            "secondary_color": row["secondary_color"],
            "accent_color": row["accent_color"],
            "dark_color": row["dark_color"],
            "css_gradient": row["css_gradient"],
            "mood_keywords": keywords_out(row["mood_keywords"]),
        },
        "tagline": row["tagline"],
        "description": row["description"],
        "architecture_notes": row["architecture_notes"],
        "atmosphere_notes": row["atmosphere_notes"],
        "image": image_of(row["image_media_id"]),
    }


async def list_public(tx: Session, lang: str) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(_PUBLIC_SELECT + " WHERE l.is_active = 1 ORDER BY l.sort_order, l.name", (lang,))
    return [to_public(r) for r in rows]


async def find_public(tx: Session, slug: str, lang: str) -> dict[str, Any] | None:
    row = await tx.fetch_one(_PUBLIC_SELECT + " WHERE l.slug = %s AND l.is_active = 1", (lang, slug))
    return to_public(row) if row else None


async def find_public_by_id(tx: Session, location_id: int, lang: str) -> dict[str, Any] | None:
    # No is_active filter: an event keeps showing where it happens even if the venue is hidden.
    row = await tx.fetch_one(_PUBLIC_SELECT + " WHERE l.id = %s", (lang, location_id))
    return to_public(row) if row else None


async def public_id(tx: Session, slug: str) -> int | None:
    return await tx.fetch_value("SELECT id FROM locations WHERE slug = %s AND is_active = 1", (slug,))


async def find_admin(tx: Session, location_id: int) -> dict[str, Any] | None:
    return _admin_shape(await LOCATIONS.find_admin(tx, location_id))


async def list_admin(tx: Session) -> list[dict[str, Any]]:
    return [_admin_shape(r) for r in await LOCATIONS.admin_rows(tx, "ORDER BY sort_order, name")]


def _admin_shape(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is not None:
        row["mood_keywords"] = keywords_out(row["mood_keywords"])
    return row


def _columns(changes: dict[str, Any]) -> dict[str, Any]:
    if "mood_keywords" in changes:
        changes = {**changes, "mood_keywords": keywords_in(changes["mood_keywords"])}
    return changes


async def create(tx: Session, values: dict[str, Any]) -> int:
    return await LOCATIONS.create(tx, _columns(values))


async def update(tx: Session, location_id: int, changes: dict[str, Any]) -> None:
    await LOCATIONS.update(tx, location_id, _columns(changes))


set_translations = LOCATIONS.set_translations
delete = LOCATIONS.delete


async def has_events(tx: Session, location_id: int) -> bool:
    return bool(await tx.fetch_value("SELECT 1 FROM events WHERE location_id = %s LIMIT 1", (location_id,)))


def bus_payload(admin: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": admin["id"],
        "slug": admin["slug"],
        "name": admin["name"],
        "is_active": admin["is_active"],
        "mood_category": admin["mood_category"],
        "translations": LOCATIONS.all_languages(admin),
    }
