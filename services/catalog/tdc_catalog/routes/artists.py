"""/api/v1/artists (public) and /api/v1/admin/artists (staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import StaffUser
from tdc_shared.db import Session
from tdc_shared.envelope import Conflict, NotFound, created, no_content, ok
from tdc_shared.events import publish
from tdc_shared.i18n import Lang
from tdc_shared.pagination import ListPagination, Pagination, paginated
from tdc_shared.translations import changes_of, translations_of

from ..deps import Db, invalidate_on_commit, write_transaction
from ..models import ArtistCreate, ArtistTranslations, ArtistUpdate
from ..queries import artists as queries
from ..queries import events as event_queries
from ..queries import search
from .common import check_references, event_list, load_or_404

router = APIRouter(prefix="/api/v1/artists", tags=["artists"])
admin_router = APIRouter(prefix="/api/v1/admin/artists", tags=["admin: artists"])

NOT_NULL = ("slug", "name", "sort_order", "is_active")


@router.get("", summary="Active artists (search by name with q, filter by genre)")
async def list_artists(
    db: Db,
    lang: Lang,
    page: Pagination,
    q: Annotated[str | None, Query(max_length=100)] = None,
    genre: Annotated[str | None, Query(max_length=100)] = None,
) -> JSONResponse:
    async with db.session() as s:
        items, total = await queries.list_public(
            s, lang, page, q.strip() if q and q.strip() else None, genre.strip() if genre and genre.strip() else None
        )
    return paginated(items, page, total)


@router.get("/{slug}", summary="One artist")
async def get_artist(slug: str, db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        artist = await queries.find_public(s, slug, lang)
    if artist is None:
        raise NotFound(f"Artist '{slug}' not found")
    return ok(artist)


@router.get("/{slug}/events", summary="Upcoming events with this artist in the lineup")
async def artist_events(slug: str, db: Db, lang: Lang, page: ListPagination) -> JSONResponse:
    async with db.session() as s:
        artist = await queries.find_public(s, slug, lang)
        if artist is None:
            raise NotFound(f"Artist '{slug}' not found")
        filters = event_queries.Filters(artist_id=artist["id"])
        found = await event_queries.list_public(s, lang, page, filters)
    return event_list(found, page)


# -- staff ---------------------------------------------------------------------------------------


async def _load(s: Session, artist_id: int) -> dict:
    return await load_or_404(s, queries.find_admin, artist_id, "Artist")


async def _announce(request: Request, tx: Session, artist_id: int) -> dict:
    artist = await _load(tx, artist_id)
    await publish(tx, "catalog.artist.updated", queries.bus_payload(artist), source="catalog")
    invalidate_on_commit(request, tx)
    return artist


@admin_router.get("", summary="Every artist, inactive ones included")
async def admin_list(db: Db, page: Pagination, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        total = await s.fetch_value("SELECT COUNT(*) FROM artists")
        items = await queries.list_admin(s, page.limit, page.offset)
    return paginated(items, page, int(total))


@admin_router.get("/{artist_id}", summary="One artist with its translations")
async def admin_get(artist_id: int, db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await _load(s, artist_id))


@admin_router.post("", status_code=201, summary="Create an artist")
async def create_artist(body: ArtistCreate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    values = body.model_dump(exclude_none=True)
    async with db.transaction() as tx:
        await check_references(tx, "artists", values)
        artist = await _announce(request, tx, await queries.create(tx, values))
    return created(artist)


@admin_router.put("/{artist_id}", summary="Change the fields sent")
async def update_artist(artist_id: int, body: ArtistUpdate, request: Request, db: Db, _: StaffUser) -> JSONResponse:
    changes = changes_of(body, NOT_NULL)
    async with write_transaction(db) as tx:  # a new name rewrites the search documents of its events
        await _load(tx, artist_id)
        await check_references(tx, "artists", changes, artist_id)
        await queries.update(tx, artist_id, changes)
        if "name" in changes:
            await search.refresh_for_artist(tx, artist_id)
        artist = await _announce(request, tx, artist_id)
    return ok(artist)


@admin_router.put("/{artist_id}/translations", summary="Set texts per language")
async def set_translations(
    artist_id: int, body: ArtistTranslations, request: Request, db: Db, _: StaffUser
) -> JSONResponse:
    translations = translations_of(body)
    async with db.transaction() as tx:
        await _load(tx, artist_id)
        await queries.set_translations(tx, artist_id, translations)
        artist = await _announce(request, tx, artist_id)
    return ok(artist)


@admin_router.delete("/{artist_id}", status_code=204, summary="Delete an artist who is in no lineup")
async def delete_artist(artist_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        artist = await _load(tx, artist_id)
        if await queries.in_lineups(tx, artist_id):
            raise Conflict("Artist is still in event lineups; remove them from those lineups first")
        await queries.delete(tx, artist_id)
        await publish(tx, "catalog.artist.deleted", {"id": artist_id, "slug": artist["slug"]}, source="catalog")
        invalidate_on_commit(request, tx)
    return no_content()
