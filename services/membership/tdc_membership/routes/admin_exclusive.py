"""/api/v1/admin/patreon/exclusive: exclusive items, their texts and their files (admin)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import AdminUser
from tdc_shared.db import Session
from tdc_shared.envelope import ApiError, NotFound, Unprocessable, created, no_content, ok

from ..deps import Db, Settings
from ..models import ItemCreate, ItemId, ItemTranslations, ItemUpdate
from ..queries import exclusive as item_queries
from ..queries import tiers as tier_queries

router = APIRouter(prefix="/api/v1/admin/patreon/exclusive", tags=["admin: patreon"])

NOT_NULL = ("kind", "title", "is_published", "sort_order")
CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


async def _load(s: Session, item_id: int) -> dict[str, Any]:
    item = await item_queries.find(s, item_id)
    if item is None:
        raise NotFound("Exclusive item not found")
    return item


async def _check_tier(tx: Session, values: dict[str, Any]) -> None:
    tier_id = values.get("required_tier_id")
    if tier_id is not None and not await tier_queries.exists(tx, tier_id):
        raise Unprocessable(errors={"required_tier_id": [f"no such tier {tier_id}"]})


def _changes(body: ItemUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    nulls = {name: ["may not be null"] for name in NOT_NULL if name in changes and changes[name] is None}
    if nulls:
        raise Unprocessable(errors=nulls)
    return changes


@router.get("", summary="Every exclusive item, unpublished ones included, with translations")
async def list_items(_: AdminUser, db: Db) -> JSONResponse:
    async with db.session() as s:
        return ok([item_queries.admin_shape(r) for r in await item_queries.list_all(s)])


@router.get("/{item_id}", summary="One exclusive item")
async def get_item(item_id: ItemId, _: AdminUser, db: Db) -> JSONResponse:
    async with db.session() as s:
        return ok(item_queries.admin_shape(await _load(s, item_id)))


@router.post("", status_code=201, summary="Create an exclusive item")
async def create_item(body: ItemCreate, _: AdminUser, db: Db) -> JSONResponse:
    values = _changes(body)
    async with db.transaction() as tx:
        await _check_tier(tx, values)
        item_id = await item_queries.create(tx, values)
        item = await _load(tx, item_id)
    return created(item_queries.admin_shape(item))


@router.put("/{item_id}", summary="Change the fields sent")
async def update_item(item_id: ItemId, body: ItemUpdate, _: AdminUser, db: Db) -> JSONResponse:
    changes = _changes(body)
    async with db.transaction() as tx:
        await _load(tx, item_id)
        await _check_tier(tx, changes)
        await item_queries.update(tx, item_id, changes)
        item = await _load(tx, item_id)
    return ok(item_queries.admin_shape(item))


@router.put("/{item_id}/translations", summary="Set texts per language (en edits the base row)")
async def set_translations(item_id: ItemId, body: ItemTranslations, _: AdminUser, db: Db) -> JSONResponse:
    translations: dict[str, dict[str, Any]] = {
        str(lang): text.model_dump(exclude_unset=True) for lang, text in body.translations.items()
    }
    if translations.get("en", {}).get("title", "") is None:
        raise Unprocessable(errors={"translations.en.title": ["may not be null"]})
    async with db.transaction() as tx:
        await _load(tx, item_id)
        await item_queries.set_translations(tx, item_id, translations)
        item = await _load(tx, item_id)
    return ok(item_queries.admin_shape(item))


@router.delete("/{item_id}", status_code=204, summary="Delete an exclusive item and its file")
async def delete_item(item_id: ItemId, _: AdminUser, db: Db, settings: Settings) -> Response:
    async with db.transaction() as tx:
        item = await _load(tx, item_id)
        await item_queries.delete(tx, item_id)
    if item["file_key"]:
        with contextlib.suppress(OSError):
            (settings.membership_files_dir / item["file_key"]).unlink()
    return no_content()


# The route streams the body to disk itself, so OpenAPI is told what it takes.
FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes as they are, under their own Content-Type (up to the service's file limit); "
        "the name patrons download it under is the filename query parameter.",
        "content": {
            "*/*": {
                "schema": {"type": "string", "format": "binary"},
                "example": "(the bytes of nebula-dome-closing-set.flac)",
            }
        },
    }
}


@router.put(
    "/{item_id}/file",
    summary="Attach a file (the raw request body); handed out only as signed links",
    openapi_extra=FILE_BODY,
)
async def put_file(
    item_id: ItemId,
    request: Request,
    _: AdminUser,
    db: Db,
    settings: Settings,
    filename: Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")],
) -> JSONResponse:
    content_type = (request.headers.get("content-type") or "application/octet-stream").split(";")[0].strip()
    if not CONTENT_TYPE.fullmatch(content_type):
        raise Unprocessable(errors={"content-type": ["not a media type"]})
    async with db.session() as s:
        old = await _load(s, item_id)
    directory = settings.membership_files_dir
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    partial = directory / f".{key}.part"
    size = 0
    try:
        with partial.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.membership_file_max_bytes:
                    raise ApiError("File too large", status=413)
                out.write(chunk)
        if size == 0:
            raise Unprocessable(errors={"body": ["the file is empty"]})
        os.replace(partial, directory / key)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    async with db.transaction() as tx:
        await _load(tx, item_id)
        await item_queries.set_file(tx, item_id, key, filename, content_type, size)
        item = await _load(tx, item_id)
    if old["file_key"]:
        with contextlib.suppress(OSError):
            (directory / old["file_key"]).unlink()
    return ok(item_queries.admin_shape(item))


@router.delete("/{item_id}/file", status_code=204, summary="Remove an item's file")
async def delete_file(item_id: ItemId, _: AdminUser, db: Db, settings: Settings) -> Response:
    async with db.transaction() as tx:
        item = await _load(tx, item_id)
        await item_queries.set_file(tx, item_id, None, None, None, None)
    if item["file_key"]:
        with contextlib.suppress(OSError):
            (settings.membership_files_dir / item["file_key"]).unlink()
    return no_content()
