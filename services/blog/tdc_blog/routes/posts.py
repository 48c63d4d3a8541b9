"""/api/v1/blog/posts: the public list and one post, locked or open by the caller's standing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tdc_shared.auth import OptionalUser
from tdc_shared.envelope import NotFound, ok
from tdc_shared.i18n import Lang
from tdc_shared.pagination import Pagination, paginated

from ..access import Standing, unlock_hint
from ..deps import Db, Render
from ..queries import posts as queries

router = APIRouter(prefix="/api/v1/blog", tags=["blog"])

# An answer shaped by the caller's token must not be kept by a browser or proxy either (our own
# cache never stores it: it bypasses requests that carry Authorization).
PRIVATE = {"Cache-Control": "private, no-store"}
SlugFilter = Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]


@router.get("/posts", summary="Published posts, newest first (filter by category, tag, full text q)")
async def list_posts(
    db: Db,
    lang: Lang,
    page: Pagination,
    user: OptionalUser,
    category: SlugFilter = None,
    tag: SlugFilter = None,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search in the answer's language")] = None,
) -> JSONResponse:
    standing = Standing.of(user)
    filters = queries.Filters(category=category, tag=tag, q=q.strip() if q and q.strip() else None)
    async with db.session() as s:
        rows, total = await queries.list_public(s, lang, filters, page.limit, page.offset)
    items = [queries.public_item(r, not standing.may_read(r["visibility"], r["required_cents"])) for r in rows]
    response = paginated(items, page, total)
    if user is not None:
        response.headers.update(PRIVATE)
    return response


@router.get("/posts/{slug}", summary="One published post; a locked one answers with its teaser only")
async def get_post(slug: str, db: Db, lang: Lang, user: OptionalUser, renderer: Render) -> JSONResponse:
    standing = Standing.of(user)
    async with db.session() as s:
        row = await queries.find_public(s, slug, lang)
        if row is None:
            raise NotFound("Post not found")
        readable = standing.may_read(row["visibility"], row["required_cents"])
        post: dict[str, Any] = queries.public_item(row, not readable)
        if readable:
            post["body_html"] = renderer.html(await queries.body_of(s, row["id"], lang))
            post["unlock"] = None
        else:
            tier = await queries.required_tier(s, row, lang)
            post["body_html"] = None
            post["teaser"] = row["excerpt"]
            post["unlock"] = unlock_hint(standing, row["visibility"], row["required_cents"], tier)
    return ok(post, headers=PRIVATE if user is not None else None)
