"""/api/v1/blog/categories and /tags (public, translated) and their staff routes under
/api/v1/admin/blog. A category still holding posts cannot be deleted (409 with the count)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import Conflict, NotFound, Unprocessable, created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.i18n import Lang
from tdc_shared.translations import TranslatedTable, changes_of, translations_of

from ..deps import Db, invalidate_on_commit
from ..models import (
    CategoryCreate,
    CategoryTranslations,
    CategoryUpdate,
    TagCreate,
    TagTranslations,
    TagUpdate,
)
from ..queries import taxonomy as queries
from ..queries.common import is_duplicate

router = APIRouter(prefix="/api/v1/blog", tags=["blog"])
admin_router = APIRouter(prefix="/api/v1/admin/blog", tags=["admin: blog"])


@router.get("/categories", summary="Categories, translated")
async def list_categories(db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.public_categories(s, lang))


@router.get("/tags", summary="Tags, translated")
async def list_tags(db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.public_tags(s, lang))


# -- staff ----------------------------------------------------------------------------------------


async def _load(s: Session, table: TranslatedTable, row_id: int, what: str) -> dict[str, Any]:
    row = await table.find_admin(s, row_id)
    if row is None:
        raise NotFound(f"{what} not found")
    return row


async def _announce(request: Request, tx: Session, event_type: str, row: dict[str, Any], deleted: bool = False) -> None:
    # Public pages show category and tag names: every replica must drop what it cached.
    await publish(tx, event_type, {"id": row["id"], "slug": row["slug"], "deleted": deleted}, source="blog")
    invalidate_on_commit(request, tx)


async def _create(
    request: Request, db: Db, table: TranslatedTable, values: dict[str, Any], event: str, what: str
) -> dict:
    try:
        async with db.transaction() as tx:
            await table.ensure_slug_free(tx, values["slug"])
            row = await _load(tx, table, await table.create(tx, values), what)
            await _announce(request, tx, event, row)
    except Exception as exc:
        if is_duplicate(exc):  # a concurrent create took the slug between check and insert
            raise Unprocessable(errors={"slug": ["already taken"]}) from exc
        raise
    return row


async def _update(
    request: Request, db: Db, table: TranslatedTable, row_id: int, changes: dict[str, Any], event: str, what: str
) -> dict:
    try:
        async with db.transaction() as tx:
            await _load(tx, table, row_id, what)
            await table.ensure_slug_free(tx, changes.get("slug"), row_id)
            await table.update(tx, row_id, changes)
            row = await _load(tx, table, row_id, what)
            await _announce(request, tx, event, row)
    except Exception as exc:
        if is_duplicate(exc):
            raise Unprocessable(errors={"slug": ["already taken"]}) from exc
        raise
    return row


async def _translate(
    request: Request,
    db: Db,
    table: TranslatedTable,
    row_id: int,
    texts: dict[str, dict[str, Any]],
    event: str,
    what: str,
) -> dict:
    async with db.transaction() as tx:
        await _load(tx, table, row_id, what)
        await table.set_translations(tx, row_id, texts)
        row = await _load(tx, table, row_id, what)
        await _announce(request, tx, event, row)
    return row


@admin_router.get("/categories", summary="Every category with its translations")
async def admin_categories(db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.CATEGORIES.admin_rows(s, "ORDER BY sort_order, slug"))


@admin_router.post("/categories", status_code=201, summary="Create a category")
async def create_category(body: CategoryCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    return created(await _create(request, db, queries.CATEGORIES, values, "blog.category.updated", "Category"))


@admin_router.patch("/categories/{category_id}", summary="Rename or change the fields sent")
async def update_category(
    category_id: int, body: CategoryUpdate, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    changes = changes_of(body, ("slug", "name", "sort_order"))
    return ok(await _update(request, db, queries.CATEGORIES, category_id, changes, "blog.category.updated", "Category"))


@admin_router.put("/categories/{category_id}/translations", summary="Set texts per language")
async def translate_category(
    category_id: int, body: CategoryTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    texts = translations_of(body, ("name",))
    return ok(
        await _translate(request, db, queries.CATEGORIES, category_id, texts, "blog.category.updated", "Category")
    )


@admin_router.delete("/categories/{category_id}", status_code=204, summary="Delete a category no post uses")
async def delete_category(category_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        row = await _load(tx, queries.CATEGORIES, category_id, "Category")
        in_use = await queries.posts_in_category(tx, category_id)
        if in_use:
            raise Conflict(
                f"Category is used by {in_use} post(s); move them to another category first",
                errors={"category": [f"in use by {in_use} post(s)"]},
            )
        await queries.CATEGORIES.delete(tx, category_id)
        await _announce(request, tx, "blog.category.updated", row, deleted=True)
    return no_content()


@admin_router.get("/tags", summary="Every tag with its translations")
async def admin_tags(db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.TAGS.admin_rows(s, "ORDER BY slug"))


@admin_router.post("/tags", status_code=201, summary="Create a tag")
async def create_tag(body: TagCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    return created(await _create(request, db, queries.TAGS, values, "blog.tag.updated", "Tag"))


@admin_router.patch("/tags/{tag_id}", summary="Rename or change the fields sent")
async def update_tag(tag_id: int, body: TagUpdate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    changes = changes_of(body, ("slug", "name"))
    return ok(await _update(request, db, queries.TAGS, tag_id, changes, "blog.tag.updated", "Tag"))


@admin_router.put("/tags/{tag_id}/translations", summary="Set texts per language")
async def translate_tag(tag_id: int, body: TagTranslations, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    texts = translations_of(body, ("name",))
    return ok(await _translate(request, db, queries.TAGS, tag_id, texts, "blog.tag.updated", "Tag"))


@admin_router.delete("/tags/{tag_id}", status_code=204, summary="Delete a tag (posts simply lose it)")
async def delete_tag(tag_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        row = await _load(tx, queries.TAGS, tag_id, "Tag")
        await queries.TAGS.delete(tx, tag_id)
        await _announce(request, tx, "blog.tag.updated", row, deleted=True)
    return no_content()
