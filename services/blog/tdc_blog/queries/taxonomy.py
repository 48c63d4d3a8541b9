"""SQL for categories and tags, translated as posts are."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.translations import TranslatedTable

CATEGORIES = TranslatedTable(
    "categories",
    "category_translations",
    "category_id",
    ("id", "slug", "name", "description", "sort_order", "created_at", "updated_at"),
    ("name", "description"),
)
TAGS = TranslatedTable(
    "tags", "tag_translations", "tag_id", ("id", "slug", "name", "created_at", "updated_at"), ("name",)
)

_CATEGORY_SELECT = CATEGORIES.public_select("c", ("id", "slug", "sort_order"))
_TAG_SELECT = TAGS.public_select("g", ("id", "slug"))


async def public_categories(tx: Session, lang: str) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(_CATEGORY_SELECT + " ORDER BY c.sort_order, c.slug", (lang,))
    return [{"id": r["id"], "slug": r["slug"], "name": r["name"], "description": r["description"]} for r in rows]


async def public_tags(tx: Session, lang: str) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(_TAG_SELECT + " ORDER BY g.slug", (lang,))
    return [{"id": r["id"], "slug": r["slug"], "name": r["name"]} for r in rows]


async def posts_in_category(tx: Session, category_id: int) -> int:
    return int(await tx.fetch_value("SELECT COUNT(*) FROM posts WHERE category_id = %s", (category_id,)) or 0)


async def tag_ids(tx: Session, slugs: list[str]) -> dict[str, int]:
    if not slugs:
        return {}
    marks = ", ".join(["%s"] * len(slugs))
    rows = await tx.fetch_all(f"SELECT id, slug FROM tags WHERE slug IN ({marks})", slugs)  # noqa: S608 -- only marks
    return {r["slug"]: r["id"] for r in rows}
