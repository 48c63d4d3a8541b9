"""/api/v1/admin/blog/posts: staff write, translate, publish, schedule and take down posts.

Status: draft -> scheduled -> published -> unpublished. `POST .../publish` publishes now, or
with a future `publish_at` schedules: the scheduler (scheduler.py) publishes it then, in one
replica, and only then is `blog.post.published` written. Staff see every post, drafts and
gated bodies included; bus payloads carry only what `post_digests` holds (no gated body).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import Conflict, NotFound, Unprocessable, created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.pagination import Pagination, paginated
from tdc_shared.translations import changes_of, translations_of

from ..deps import Db, Render, Settings, invalidate_on_commit
from ..models import PostCreate, PostTranslations, PostUpdate, PublishRequest
from ..queries import posts as queries
from ..queries.common import is_duplicate, utc_naive, utc_now

router = APIRouter(prefix="/api/v1/admin/blog", tags=["admin: blog"])

NOT_NULL = ("slug", "title", "body", "visibility", "author_name")


async def _load(s: Session, post_id: int) -> dict[str, Any]:
    post = await queries.find_admin(s, post_id)
    if post is None:
        raise NotFound("Post not found")
    return post


async def _lock(tx: Session, post_id: int) -> str:
    status = await tx.fetch_value("SELECT status FROM posts WHERE id = %s FOR UPDATE", (post_id,))
    if status is None:
        raise NotFound("Post not found")
    return str(status)


async def _check(tx: Session, merged: dict[str, Any], changes: dict[str, Any], post_id: int | None = None) -> None:
    """Field errors for a post as it would be after `changes`."""
    await queries.ensure_slug_free(tx, changes.get("slug"), post_id)
    if merged.get("visibility") == "tier" and merged.get("required_cents") is None:
        raise Unprocessable(errors={"required_cents": ["required when visibility is tier"]})
    category = changes.get("category_id")
    if category is not None and not await tx.fetch_value("SELECT 1 FROM categories WHERE id = %s", (category,)):
        raise Unprocessable(errors={"category_id": [f"no such category {category}"]})


def _columns(changes: dict[str, Any]) -> dict[str, Any]:
    """The posts columns among the changes (tags live in their own table)."""
    columns = {k: v for k, v in changes.items() if k != "tags"}
    if columns.get("visibility") not in (None, "tier"):
        columns["required_cents"] = None  # only a tier post has a minimum pledge
    return columns


async def _saved(request: Request, tx: Session, post_id: int, event: str | None = "blog.post.updated") -> dict:
    """After any change: rebuild the digests, tell the bus when the post is public, clear caches."""
    post = await _load(tx, post_id)
    await queries.refresh_digests(tx, post)
    if event is not None and post["status"] == "published":
        await publish(tx, event, await queries.bus_payload(tx, post), source="blog")
    invalidate_on_commit(request, tx)
    return post


def _with_html(post: dict[str, Any], renderer: Any) -> dict[str, Any]:
    post["body_html"] = renderer.html(post["body"] or "")
    return post


def _slug_race(exc: BaseException) -> None:
    if is_duplicate(exc):  # a concurrent write took the slug between the check and ours
        raise Unprocessable(errors={"slug": ["already taken"]}) from exc


@router.get("/posts", summary="Every post, drafts and scheduled ones included")
async def admin_list(db: Db, page: Pagination, _: StaffUser, status: str | None = None) -> JSONResponse:
    if status is not None and status not in queries.STATUSES:
        raise Unprocessable(errors={"status": [f"must be one of {', '.join(queries.STATUSES)}"]})
    async with db.session() as s:
        items, total = await queries.list_admin(s, status, page)
    return paginated(items, page, total)


@router.get("/posts/{post_id}", summary="One post as stored, with its translations and rendered body")
async def admin_get(post_id: int, db: Db, renderer: Render, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(_with_html(await _load(s, post_id), renderer))


@router.post("/posts", status_code=201, summary="Create a draft")
async def create_post(body: PostCreate, request: Request, db: Db, settings: Settings, user: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    values.setdefault("author_name", settings.blog_default_author)
    values["author_id"] = user.sub
    tags = values.pop("tags", [])
    try:
        async with db.transaction() as tx:
            await _check(tx, values, values)
            post_id = await queries.create(tx, _columns(values))
            await queries.set_tags(tx, post_id, tags)
            post = await _saved(request, tx, post_id, event=None)
    except Exception as exc:
        _slug_race(exc)
        raise
    return created(post)


@router.patch("/posts/{post_id}", summary="Change the fields sent")
async def update_post(post_id: int, body: PostUpdate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    changes = changes_of(body, NOT_NULL)
    try:
        async with db.transaction() as tx:
            await _lock(tx, post_id)
            current = await _load(tx, post_id)
            columns = _columns(changes)
            await _check(tx, {**current, **columns}, changes, post_id)
            await queries.update(tx, post_id, columns)
            if "tags" in changes:
                await queries.set_tags(tx, post_id, changes["tags"] or [])
            post = await _saved(request, tx, post_id)
    except Exception as exc:
        _slug_race(exc)
        raise
    return ok(post)


@router.put("/posts/{post_id}/translations", summary="Set texts per language")
async def set_translations(
    post_id: int, body: PostTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    texts = translations_of(body, ("title", "body"))
    async with db.transaction() as tx:
        await _lock(tx, post_id)
        await queries.set_translations(tx, post_id, texts)
        post = await _saved(request, tx, post_id)
    return ok(post)


@router.delete("/posts/{post_id}", status_code=204, summary="Delete a post (a published one is taken down)")
async def delete_post(post_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        status = await _lock(tx, post_id)
        slug = await tx.fetch_value("SELECT slug FROM posts WHERE id = %s", (post_id,))
        await queries.delete(tx, post_id)
        if status == "published":
            await publish(tx, "blog.post.unpublished", {"id": post_id, "slug": slug}, source="blog")
        invalidate_on_commit(request, tx)
    return no_content()


@router.post("/posts/{post_id}/publish", summary="Publish now, or schedule with a future publish_at")
async def publish_post(
    post_id: int, request: Request, db: Db, _: StaffUser, body: PublishRequest | None = None
) -> JSONResponse:
    now = utc_now()
    at = utc_naive(body.publish_at) if body is not None and body.publish_at is not None else None
    if at is not None and not 2000 <= at.year <= 2100:
        raise Unprocessable(errors={"publish_at": ["must be between the years 2000 and 2100"]})
    async with db.transaction() as tx:
        status = await _lock(tx, post_id)
        if status == "published":
            raise Conflict("Post is already published; unpublish it first")
        if at is not None and at > now:
            await tx.execute(
                "UPDATE posts SET status = %s, publish_at = %s, published_at = NULL WHERE id = %s",
                ("scheduled", at, post_id),
            )
            post = await _saved(request, tx, post_id, event=None)
        else:
            await tx.execute(
                "UPDATE posts SET status = %s, publish_at = NULL, published_at = %s WHERE id = %s",
                ("published", now, post_id),
            )
            post = await _saved(request, tx, post_id, event="blog.post.published")
    return ok(post)


@router.post("/posts/{post_id}/unpublish", summary="Take a published post down, or cancel a schedule")
async def unpublish_post(post_id: int, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    async with db.transaction() as tx:
        status = await _lock(tx, post_id)
        if status == "scheduled":
            # Never public: back to a draft, and nobody is told.
            await tx.execute("UPDATE posts SET status = %s, publish_at = NULL WHERE id = %s", ("draft", post_id))
            return ok(await _saved(request, tx, post_id, event=None))
        if status != "published":
            raise Conflict(f"Post is {status}, not published")
        await tx.execute("UPDATE posts SET status = %s WHERE id = %s", ("unpublished", post_id))
        post = await _saved(request, tx, post_id, event=None)
        await publish(tx, "blog.post.unpublished", {"id": post_id, "slug": post["slug"]}, source="blog")
    return ok(post)
