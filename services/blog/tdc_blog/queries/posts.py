"""SQL for posts: the staff view (stored text, every status), the public reads (published
only, through `post_digests`), and the digest each write refreshes.

The public list, feeds and search read `post_digests` and never `posts.body`: a digest holds
what anyone may see of a post in one language (title, excerpt, reading time, search text),
built here from the stored texts with English filling the gaps. For a gated post the excerpt
is the author's teaser only and the search text leaves the body out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tdc_shared.db import Session
from tdc_shared.envelope import Unprocessable
from tdc_shared.i18n import LANGUAGES
from tdc_shared.pagination import PageRequest
from tdc_shared.translations import TranslatedTable, translated

from ..render import excerpt_of, plain_text, reading_minutes
from . import taxonomy
from .common import iso_utc

STATUSES: tuple[str, ...] = ("draft", "scheduled", "published", "unpublished")
TEXT_FIELDS = ("title", "excerpt", "body")
BASE_FIELDS = (
    "id",
    "slug",
    "status",
    "visibility",
    "required_cents",
    "category_id",
    "cover_url",
    "author_id",
    "author_name",
    "publish_at",
    "published_at",
    "created_at",
    "updated_at",
)
POSTS = TranslatedTable(
    "posts",
    "post_translations",
    "post_id",
    BASE_FIELDS,
    TEXT_FIELDS,
    times=("created_at", "updated_at", "publish_at", "published_at"),
)

find_admin_row = POSTS.find_admin
create = POSTS.create
update = POSTS.update
set_translations = POSTS.set_translations
delete = POSTS.delete
ensure_slug_free = POSTS.ensure_slug_free


# -- staff ----------------------------------------------------------------------------------------


async def tags_of(tx: Session, post_ids: list[int], lang: str = "en") -> dict[int, list[dict[str, Any]]]:
    if not post_ids:
        return {}
    marks = ", ".join(["%s"] * len(post_ids))
    rows = await tx.fetch_all(
        f"SELECT pt.post_id, g.id, g.slug, {translated('g', 't', 'name')} AS name FROM post_tags pt "  # noqa: S608 -- constants and marks
        "JOIN tags g ON g.id = pt.tag_id LEFT JOIN tag_translations t ON t.tag_id = g.id AND t.language = %s "
        f"WHERE pt.post_id IN ({marks}) ORDER BY g.slug",
        (lang, *post_ids),
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["post_id"], []).append({"id": row["id"], "slug": row["slug"], "name": row["name"]})
    return out


async def find_admin(tx: Session, post_id: int) -> dict[str, Any] | None:
    row = await find_admin_row(tx, post_id)
    if row is None:
        return None
    row["tags"] = [t["slug"] for t in (await tags_of(tx, [post_id])).get(post_id, [])]
    return row


async def list_admin(tx: Session, status: str | None, page: PageRequest) -> tuple[list[dict[str, Any]], int]:
    where, params = ("WHERE status = %s", [status]) if status else ("", [])
    total = await tx.fetch_value(f"SELECT COUNT(*) FROM posts {where}", params)  # noqa: S608 -- constant clause
    rows = await POSTS.admin_rows(
        tx,
        f"{where} ORDER BY COALESCE(published_at, publish_at, created_at) DESC, id DESC LIMIT %s OFFSET %s",
        [*params, page.limit, page.offset],
    )
    tags = await tags_of(tx, [r["id"] for r in rows])
    for row in rows:
        row["tags"] = [t["slug"] for t in tags.get(row["id"], [])]
    return rows, int(total or 0)


async def set_tags(tx: Session, post_id: int, slugs: list[str]) -> None:
    wanted = list(dict.fromkeys(slugs))
    known = await taxonomy.tag_ids(tx, wanted)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise Unprocessable(errors={"tags": [f"no such tag: {s}" for s in unknown]})
    await tx.execute("DELETE FROM post_tags WHERE post_id = %s", (post_id,))
    await tx.execute_many(
        "INSERT INTO post_tags (post_id, tag_id) VALUES (%s, %s)", [(post_id, known[s]) for s in wanted]
    )


def digests_of(admin: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What anyone may see of this post, per language (English filling the gaps)."""
    gated = admin["visibility"] != "public"
    out: dict[str, dict[str, Any]] = {}
    for language, text in POSTS.all_languages(admin).items():
        body = text["body"] or ""
        teaser = (text["excerpt"] or "").strip()
        words = plain_text(body)
        if gated:
            # Never derived from the body, which the reader may not have the right to see.
            excerpt, searchable = teaser, [text["title"], teaser]
        else:
            excerpt, searchable = teaser or excerpt_of(words), [text["title"], teaser, words]
        out[language] = {
            "title": text["title"],
            "excerpt": excerpt,
            "reading_minutes": reading_minutes(body),
            "search_text": "\n".join(s for s in searchable if s),
        }
    return out


async def refresh_digests(tx: Session, admin: dict[str, Any]) -> None:
    rows = [
        (admin["id"], lang, d["title"], d["excerpt"], d["reading_minutes"], d["search_text"])
        for lang, d in digests_of(admin).items()
    ]
    await tx.execute_many(
        "INSERT INTO post_digests (post_id, language, title, excerpt, reading_minutes, search_text) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE title = VALUES(title), excerpt = VALUES(excerpt), "
        "reading_minutes = VALUES(reading_minutes), search_text = VALUES(search_text)",
        rows,
    )


# -- public ---------------------------------------------------------------------------------------

_PUBLIC_COLUMNS = (
    "SELECT p.id, p.slug, p.visibility, p.required_cents, p.cover_url, p.author_name, p.published_at, "
    "p.updated_at, p.category_id, d.title, d.excerpt, d.reading_minutes "
    "FROM posts p JOIN post_digests d ON d.post_id = p.id AND d.language = %s"
)
_ORDER = " ORDER BY p.published_at DESC, p.id DESC"


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    tag: str | None = None
    q: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (fixed SQL text) and its parameters."""
        clauses, params = ["p.status = %s"], ["published"]
        if self.category:
            clauses.append("p.category_id = (SELECT c.id FROM categories c WHERE c.slug = %s)")
            params.append(self.category)
        if self.tag:
            clauses.append(
                "EXISTS (SELECT 1 FROM post_tags pt JOIN tags g ON g.id = pt.tag_id "
                "WHERE pt.post_id = p.id AND g.slug = %s)"
            )
            params.append(self.tag)
        if self.q:
            # The digest row of the caller's language: its search text never holds a gated body.
            clauses.append("MATCH(d.search_text) AGAINST (%s IN NATURAL LANGUAGE MODE)")
            params.append(self.q)
        return " WHERE " + " AND ".join(clauses), params


async def list_public(
    tx: Session, lang: str, filters: Filters, limit: int, offset: int = 0, *, count: bool = True
) -> tuple[list[dict[str, Any]], int]:
    where, params = filters.where()
    total = 0
    if count:
        total = int(
            await tx.fetch_value(
                # `where` is fixed SQL text from Filters.where; every value is a parameter.
                "SELECT COUNT(*) FROM posts p JOIN post_digests d ON d.post_id = p.id AND d.language = %s"  # noqa: S608
                + where,
                [lang, *params],
            )
            or 0
        )
        if total == 0:
            return [], 0
    rows = await tx.fetch_all(_PUBLIC_COLUMNS + where + _ORDER + " LIMIT %s OFFSET %s", [lang, *params, limit, offset])
    await _attach_taxonomy(tx, rows, lang)
    return rows, total


async def find_public(tx: Session, slug: str, lang: str) -> dict[str, Any] | None:
    row = await tx.fetch_one(_PUBLIC_COLUMNS + " WHERE p.slug = %s AND p.status = %s", (lang, slug, "published"))
    if row is None:
        return None
    await _attach_taxonomy(tx, [row], lang)
    return row


async def body_of(tx: Session, post_id: int, lang: str) -> str:
    """The Markdown body in `lang` (English where missing): only ever asked for a reader allowed it."""
    return str(
        await tx.fetch_value(
            f"SELECT {translated('p', 't', 'body')} FROM posts p "  # noqa: S608 -- constant expression
            "LEFT JOIN post_translations t ON t.post_id = p.id AND t.language = %s WHERE p.id = %s",
            (lang, post_id),
        )
        or ""
    )


async def _attach_taxonomy(tx: Session, rows: list[dict[str, Any]], lang: str) -> None:
    if not rows:
        return
    category_ids = sorted({r["category_id"] for r in rows if r["category_id"] is not None})
    categories: dict[int, dict[str, Any]] = {}
    if category_ids:
        marks = ", ".join(["%s"] * len(category_ids))
        for c in await tx.fetch_all(
            f"SELECT c.id, c.slug, {translated('c', 't', 'name')} AS name FROM categories c "  # noqa: S608 -- constants and marks
            f"LEFT JOIN category_translations t ON t.category_id = c.id AND t.language = %s WHERE c.id IN ({marks})",
            (lang, *category_ids),
        ):
            categories[c["id"]] = c
    tags = await tags_of(tx, [r["id"] for r in rows], lang)
    for row in rows:
        row["category"] = categories.get(row["category_id"])
        row["tags"] = [{"slug": t["slug"], "name": t["name"]} for t in tags.get(row["id"], [])]


# -- events ---------------------------------------------------------------------------------------


async def bus_payload(tx: Session, admin: dict[str, Any]) -> dict[str, Any]:
    """What a newsletter needs without calling back; the digests, so never a gated body."""
    digests = digests_of(admin)
    tier = await required_tier(tx, admin)
    category = None
    if admin["category_id"] is not None:
        row = await tx.fetch_one("SELECT id, slug FROM categories WHERE id = %s", (admin["category_id"],))
        category = dict(row) if row else None
    return {
        "id": admin["id"],
        "slug": admin["slug"],
        "translations": {lang: {"title": d["title"], "excerpt": d["excerpt"]} for lang, d in digests.items()},
        "visibility": admin["visibility"],
        "required_tier_id": tier["id"] if tier else None,
        "required_cents": admin["required_cents"],
        "cover_url": admin["cover_url"],
        "published_at": admin["published_at"],
        "category": category,
    }


async def required_tier(tx: Session, post: dict[str, Any], lang: str = "en") -> dict[str, Any] | None:
    """The cheapest known Patreon tier that opens a `tier` post, from the membership read model."""
    if post["visibility"] != "tier" or post["required_cents"] is None:
        return None
    row = await tx.fetch_one(
        "SELECT id, amount_cents, translations FROM patreon_tiers WHERE amount_cents >= %s "
        "ORDER BY amount_cents, id LIMIT 1",
        (post["required_cents"],),
    )
    if row is None:
        return None
    return {"id": row["id"], "amount_cents": int(row["amount_cents"]), "name": tier_name(row["translations"], lang)}


def tier_name(raw: str, lang: str) -> str | None:
    try:
        names = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(names, dict):
        return None
    for language in (lang, "en", *LANGUAGES):
        name = names.get(language)
        if isinstance(name, str) and name:
            return name
    return None


def public_item(row: dict[str, Any], locked: bool) -> dict[str, Any]:
    return {
        "slug": row["slug"],
        "title": row["title"],
        "excerpt": row["excerpt"],
        "cover_url": row["cover_url"],
        "category": row["category"],
        "tags": row["tags"],
        "author": {"display_name": row["author_name"]},
        "published_at": iso_utc(row["published_at"]),
        "reading_minutes": int(row["reading_minutes"]),
        "visibility": row["visibility"],
        "required_cents": row["required_cents"],
        "locked": locked,
    }
