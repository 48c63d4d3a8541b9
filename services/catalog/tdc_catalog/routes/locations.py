"""/api/v1/locations (public) and /api/v1/admin/locations (staff)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import Conflict, NotFound, created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.i18n import Lang
from tdc_shared.pagination import ListPagination
from tdc_shared.translations import changes_of, translations_of

from ..deps import Db, invalidate_on_commit
from ..models import LocationCreate, LocationTranslations, LocationUpdate
from ..queries import events as event_queries
from ..queries import locations as queries
from .common import check_references, event_list, load_or_404

router = APIRouter(prefix="/api/v1/locations", tags=["locations"])
admin_router = APIRouter(prefix="/api/v1/admin/locations", tags=["admin: locations"])

NOT_NULL = ("slug", "name", "capacity", "sort_order", "is_active", "mood_category")


@router.get("", summary="Active locations, in display order")
async def list_locations(db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.list_public(s, lang))


@router.get("/{slug}", summary="One location")
async def get_location(slug: str, db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        location = await queries.find_public(s, slug, lang)
    if location is None:
        raise NotFound(f"Location '{slug}' not found")
    return ok(location)


@router.get("/{slug}/events", summary="Upcoming events at a location")
async def location_events(slug: str, db: Db, lang: Lang, page: ListPagination) -> JSONResponse:
    async with db.session() as s:
        location_id = await queries.public_id(s, slug)
        if location_id is None:
            raise NotFound(f"Location '{slug}' not found")
        found = await event_queries.list_public(s, lang, page, event_queries.Filters(location_id=location_id))
    return event_list(found, page)


# -- staff ---------------------------------------------------------------------------------------


async def _load(s: Session, location_id: int) -> dict:
    return await load_or_404(s, queries.find_admin, location_id, "Location")


async def _announce(request: Request, tx: Session, location_id: int) -> dict:
    location = await _load(tx, location_id)
    await publish(tx, "catalog.location.updated", queries.bus_payload(location), source="catalog")
    invalidate_on_commit(request, tx)
    return location


@admin_router.get("", summary="Every location, inactive ones included, with translations")
async def admin_list(db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.list_admin(s))


@admin_router.get("/{location_id}", summary="One location with its translations")
async def admin_get(location_id: int, db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await _load(s, location_id))


@admin_router.post("", status_code=201, summary="Create a location")
async def create_location(body: LocationCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    async with db.transaction() as tx:
        await check_references(tx, "locations", values)
        location = await _announce(request, tx, await queries.create(tx, values))
    return created(location)


@admin_router.put("/{location_id}", summary="Change the fields sent")
async def update_location(
    location_id: int, body: LocationUpdate, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    changes = changes_of(body, NOT_NULL)
    async with db.transaction() as tx:
        await _load(tx, location_id)
        await check_references(tx, "locations", changes, location_id)
        await queries.update(tx, location_id, changes)
        location = await _announce(request, tx, location_id)
    return ok(location)


@admin_router.put("/{location_id}/translations", summary="Set texts per language")
async def set_translations(
    location_id: int, body: LocationTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    translations = translations_of(body, ("name",))
    async with db.transaction() as tx:
        await _load(tx, location_id)
        await queries.set_translations(tx, location_id, translations)
        location = await _announce(request, tx, location_id)
    return ok(location)


@admin_router.delete("/{location_id}", status_code=204, summary="Delete a location that hosts no event")
async def delete_location(location_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        location = await _load(tx, location_id)
        if await queries.has_events(tx, location_id):
            raise Conflict("Location still has events; move or delete them first")
        await queries.delete(tx, location_id)
        await publish(tx, "catalog.location.deleted", {"id": location_id, "slug": location["slug"]}, source="catalog")
        invalidate_on_commit(request, tx)
    return no_content()
