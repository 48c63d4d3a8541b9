"""SQL for artists and their translations."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.pagination import PageRequest

from .common import (
    image_of,
    insert_row,
    iso_utc,
    like_pattern,
    load_translations,
    translated_columns,
    update_row,
    upsert_translations,
    with_fallback,
)

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
_PUBLIC_SELECT = (
    f"SELECT {', '.join('a.' + f for f in BASE_FIELDS)}, {translated_columns('a', 't', TEXT_FIELDS)} "
    "FROM artists a LEFT JOIN artist_translations t ON t.artist_id = a.id AND t.language = %s"
)


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
    total = await tx.fetch_value(f"SELECT COUNT(*) FROM artists a{where}", params)
    rows = await tx.fetch_all(
        _PUBLIC_SELECT + where + " ORDER BY a.sort_order, a.name LIMIT %s OFFSET %s",
        [lang, *params, page.limit, page.offset],
    )
    return [to_public(r) for r in rows], int(total or 0)


async def find_public(tx: Session, slug: str, lang: str) -> dict[str, Any] | None:
    row = await tx.fetch_one(_PUBLIC_SELECT + " WHERE a.slug = %s AND a.is_active = 1", (lang, slug))
    return to_public(row) if row else None


async def find_admin(tx: Session, artist_id: int) -> dict[str, Any] | None:
    row = await tx.fetch_one(
        f"SELECT {', '.join(BASE_FIELDS)}, {', '.join(TEXT_FIELDS)} FROM artists WHERE id = %s", (artist_id,)
    )
    if row is None:
        return None
    translations = await load_translations(tx, "artist_translations", "artist_id", [artist_id], TEXT_FIELDS)
    row["is_active"] = bool(row["is_active"])
    row["created_at"] = iso_utc(row["created_at"])
    row["updated_at"] = iso_utc(row["updated_at"])
    row["translations"] = translations.get(artist_id, {})
    return row


async def create(tx: Session, values: dict[str, Any]) -> int:
    return await insert_row(tx, "artists", values)


async def update(tx: Session, artist_id: int, changes: dict[str, Any]) -> None:
    await update_row(tx, "artists", artist_id, changes)


async def set_translations(tx: Session, artist_id: int, translations: dict[str, dict[str, Any]]) -> None:
    english = translations.pop("en", None)
    if english:
        await update_row(tx, "artists", artist_id, english)
    await upsert_translations(tx, "artist_translations", "artist_id", artist_id, translations)


async def in_lineups(tx: Session, artist_id: int) -> bool:
    return bool(await tx.fetch_value("SELECT 1 FROM event_artists WHERE artist_id = %s LIMIT 1", (artist_id,)))


async def delete(tx: Session, artist_id: int) -> None:
    await tx.execute("DELETE FROM artists WHERE id = %s", (artist_id,))


def bus_payload(admin: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": admin["id"],
        "slug": admin["slug"],
        "name": admin["name"],
        "genre": admin["genre"],
        "is_active": admin["is_active"],
        "translations": with_fallback({f: admin[f] for f in TEXT_FIELDS}, admin["translations"]),
    }
