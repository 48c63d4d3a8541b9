"""SQL for artists and their translations."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.pagination import PageRequest
from tdc_shared.translations import TranslatedTable

from .common import image_of, like_pattern

TEXT_FIELDS = ("tagline", "bio")
BASE_FIELDS = (
    "id",
    "slug",
    "name",
    "genre",
    "website_url",
    "soundcloud_url",
    "mixcloud_url",
    "sl_avatar_name",
    "image_media_id",
    "sort_order",
    "is_active",
    "created_at",
    "updated_at",
)
ARTISTS = TranslatedTable(
    "artists", "artist_translations", "artist_id", BASE_FIELDS, TEXT_FIELDS, booleans=("is_active",)
)
_PUBLIC_SELECT = ARTISTS.public_select("a")


def to_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "genre": row["genre"],
        "tagline": row["tagline"],
        "bio": row["bio"],
        "links": {
            "website": row["website_url"],
            "soundcloud": row["soundcloud_url"],
            "mixcloud": row["mixcloud_url"],
        },
        "sl_avatar_name": row["sl_avatar_name"],
        "image": image_of(row["image_media_id"]),
    }


async def list_public(
    tx: Session, lang: str, page: PageRequest, q: str | None, genre: str | None
) -> tuple[list[dict[str, Any]], int]:
    clauses, params = ["a.is_active = 1"], []
    if q:
        clauses.append("a.name LIKE %s")
        params.append(like_pattern(q))
    if genre:
        clauses.append("a.genre = %s")
        params.append(genre)
    where = " WHERE " + " AND ".join(clauses)
    total = await tx.fetch_value(f"SELECT COUNT(*) FROM artists a{where}", params)  # noqa: S608 - WHERE of fixed clauses; values are parameters
    rows = await tx.fetch_all(
        _PUBLIC_SELECT + where + " ORDER BY a.sort_order, a.name LIMIT %s OFFSET %s",
        [lang, *params, page.limit, page.offset],
    )
    return [to_public(r) for r in rows], int(total or 0)


async def find_public(tx: Session, slug: str, lang: str) -> dict[str, Any] | None:
    row = await tx.fetch_one(_PUBLIC_SELECT + " WHERE a.slug = %s AND a.is_active = 1", (lang, slug))
    return to_public(row) if row else None


find_admin = ARTISTS.find_admin
create = ARTISTS.create
update = ARTISTS.update
set_translations = ARTISTS.set_translations
delete = ARTISTS.delete


async def list_admin(tx: Session, limit: int, offset: int) -> list[dict[str, Any]]:
    return await ARTISTS.admin_rows(tx, "ORDER BY name LIMIT %s OFFSET %s", (limit, offset))


async def in_lineups(tx: Session, artist_id: int) -> bool:
    return bool(await tx.fetch_value("SELECT 1 FROM event_artists WHERE artist_id = %s LIMIT 1", (artist_id,)))


def bus_payload(admin: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": admin["id"],
        "slug": admin["slug"],
        "name": admin["name"],
        "genre": admin["genre"],
        "is_active": admin["is_active"],
        "translations": ARTISTS.all_languages(admin),
    }
