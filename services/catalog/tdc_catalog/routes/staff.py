"""/api/v1/staff (public profiles) and /api/v1/admin/staff (staff)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.i18n import Lang
from tdc_shared.translations import changes_of, translations_of

from ..deps import Db, invalidate_on_commit
from ..models import StaffCreate, StaffTranslations, StaffUpdate
from ..queries import staff as queries
from .common import check_references, load_or_404

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
admin_router = APIRouter(prefix="/api/v1/admin/staff", tags=["admin: staff"])

NOT_NULL = ("slug", "name", "sort_order", "is_active")


@router.get("", summary="The club's team, with translated roles and bios")
async def list_staff(db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.list_public(s, lang))


async def _load(s: Session, staff_id: int) -> dict:
    return await load_or_404(s, queries.find_admin, staff_id, "Staff profile")


async def _announce(request: Request, tx: Session, profile: dict, *, deleted: bool = False) -> None:
    data = {"id": profile["id"], "slug": profile["slug"], "name": profile["name"], "deleted": deleted}
    await publish(tx, "catalog.staff.updated", data, source="catalog")
    invalidate_on_commit(request, tx)


@admin_router.get("", summary="Every staff profile, inactive ones included")
async def admin_list(db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.list_admin(s))


@admin_router.get("/{staff_id}", summary="One profile with its translations")
async def admin_get(staff_id: int, db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await _load(s, staff_id))


@admin_router.post("", status_code=201, summary="Create a staff profile")
async def create_profile(body: StaffCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    async with db.transaction() as tx:
        await check_references(tx, "staff", values)
        profile = await _load(tx, await queries.create(tx, values))
        await _announce(request, tx, profile)
    return created(profile)


@admin_router.put("/{staff_id}", summary="Change the fields sent")
async def update_profile(staff_id: int, body: StaffUpdate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    changes = changes_of(body, NOT_NULL)
    async with db.transaction() as tx:
        await _load(tx, staff_id)
        await check_references(tx, "staff", changes, staff_id)
        await queries.update(tx, staff_id, changes)
        profile = await _load(tx, staff_id)
        await _announce(request, tx, profile)
    return ok(profile)


@admin_router.put("/{staff_id}/translations", summary="Set role titles and bios per language")
async def set_translations(
    staff_id: int, body: StaffTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    translations = translations_of(body)
    async with db.transaction() as tx:
        await _load(tx, staff_id)
        await queries.set_translations(tx, staff_id, translations)
        profile = await _load(tx, staff_id)
        await _announce(request, tx, profile)
    return ok(profile)


@admin_router.delete("/{staff_id}", status_code=204, summary="Delete a staff profile")
async def delete_profile(staff_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        profile = await _load(tx, staff_id)
        await queries.delete(tx, staff_id)
        await _announce(request, tx, profile, deleted=True)
    return no_content()
