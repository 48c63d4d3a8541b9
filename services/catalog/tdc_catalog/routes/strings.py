"""/api/v1/i18n (UI strings per language) and /api/v1/admin/i18n (staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import NotFound, Unprocessable, created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.i18n import DEFAULT_LANGUAGE, LANGUAGES
from tdc_shared.translations import changes_of, translations_of

from ..deps import Db, invalidate_on_commit
from ..models import StringCreate, StringTranslations, StringUpdate
from ..queries import strings as queries
from .common import load_or_404

router = APIRouter(prefix="/api/v1/i18n", tags=["i18n"])
admin_router = APIRouter(prefix="/api/v1/admin/i18n", tags=["admin: i18n"])

LANGUAGE_NAMES = {
    "en": ("English", "English"),
    "it": ("Italian", "Italiano"),
    "fr": ("French", "Français"),
    "es": ("Spanish", "Español"),
}


@router.get("/languages", summary="The languages the site speaks, with translation coverage")
async def languages(db: Db) -> JSONResponse:
    async with db.session() as s:
        counts = await queries.counts(s)
    total = counts.get("en", 0)
    return ok(
        [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code][0],
                "native_name": LANGUAGE_NAMES[code][1],
                "is_default": code == DEFAULT_LANGUAGE,
                "translated_strings": counts.get(code, 0),
                "total_strings": total,
            }
            for code in LANGUAGES
        ]
    )


@router.get("/{lang}", summary="UI strings as a flat key -> text map (English where untranslated)")
async def strings(lang: str, db: Db) -> JSONResponse:
    code = lang.lower()
    if code not in LANGUAGES:
        raise NotFound(f"Language '{lang}' is not available; use one of {', '.join(LANGUAGES)}")
    async with db.session() as s:
        return ok(await queries.flat_map(s, code), meta={"language": code})


async def _load(s: Session, string_id: int) -> dict:
    return await load_or_404(s, queries.find_admin, string_id, "String")


async def _announce(request: Request, tx: Session, key: str, *, deleted: bool = False) -> None:
    await publish(tx, "catalog.i18n.updated", {"key": key, "deleted": deleted}, source="catalog")
    invalidate_on_commit(request, tx)


@admin_router.get("", summary="Every UI string with its translations")
async def admin_list(db: Db, _: StaffUser, prefix: Annotated[str | None, Query(max_length=150)] = None) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.list_admin(s, prefix))


@admin_router.get("/{string_id}", summary="One UI string")
async def admin_get(string_id: int, db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await _load(s, string_id))


@admin_router.post("", status_code=201, summary="Create a UI string (English text)")
async def create_string(body: StringCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    async with db.transaction() as tx:
        if await queries.key_taken(tx, body.key):
            raise Unprocessable(errors={"key": ["already exists"]})
        item = await _load(tx, await queries.create(tx, body.key, body.text, body.description))
        await _announce(request, tx, body.key)
    return created(item)


@admin_router.put("/{string_id}", summary="Change the fields sent")
async def update_string(string_id: int, body: StringUpdate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    changes = changes_of(body, ("key", "text"))
    async with db.transaction() as tx:
        await _load(tx, string_id)
        if "key" in changes and await queries.key_taken(tx, changes["key"], string_id):
            raise Unprocessable(errors={"key": ["already exists"]})
        await queries.update(tx, string_id, changes)
        item = await _load(tx, string_id)
        await _announce(request, tx, item["key"])
    return ok(item)


@admin_router.put("/{string_id}/translations", summary="Set the text per language")
async def set_translations(
    string_id: int, body: StringTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    translations = translations_of(body, ("text",))
    async with db.transaction() as tx:
        await _load(tx, string_id)
        await queries.set_translations(tx, string_id, translations)
        item = await _load(tx, string_id)
        await _announce(request, tx, item["key"])
    return ok(item)


@admin_router.delete("/{string_id}", status_code=204, summary="Delete a UI string")
async def delete_string(string_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        item = await _load(tx, string_id)
        await queries.delete(tx, string_id)
        await _announce(request, tx, item["key"], deleted=True)
    return no_content()
