"""/api/v1/events, its ICS form, and /api/v1/calendar.ics (public)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.envelope import NotFound, Unprocessable, ok
from tdc_shared.i18n import Lang
from tdc_shared.pagination import Pagination, paginated

from .. import ics
from ..deps import Db
from ..models import IsoDateTime
from ..queries import events as queries
from ..queries import locations as location_queries
from ..queries.common import utc_naive

router = APIRouter(prefix="/api/v1", tags=["events"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
SlugFilter = Annotated[str | None, Query(max_length=100)]


async def _id_for(s, table: str, slug: str | None, field: str) -> int | None:
    if slug is None:
        return None
    found = await queries.active_id_by_slug(s, table, slug)
    if found is None:
        # An unknown filter value matches nothing; say so instead of an empty list.
        raise NotFound(f"No {field} '{slug}'")
    return found


@router.get("/events", summary="Events, upcoming by default, sorted by start")
async def list_events(
    db: Db,
    lang: Lang,
    page: Pagination,
    start_from: Annotated[
        IsoDateTime | None, Query(alias="from", description="Starting at or after (UTC if no offset)")
    ] = None,
    start_to: Annotated[IsoDateTime | None, Query(alias="to", description="Starting before (UTC if no offset)")] = None,
    location: SlugFilter = None,
    artist: SlugFilter = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    featured: bool | None = None,
) -> JSONResponse:
    for name, value in (("from", start_from), ("to", start_to)):
        if value is not None and not 1970 <= value.year <= 2200:
            raise Unprocessable(errors={name: ["must be between the years 1970 and 2200"]})
    if start_from and start_to and utc_naive(start_to) <= utc_naive(start_from):
        raise Unprocessable(errors={"to": ["must be after from"]})
    async with db.session() as s:
        filters = queries.Filters(
            location_id=await _id_for(s, "locations", location, "location"),
            artist_id=await _id_for(s, "artists", artist, "artist"),
            start_from=utc_naive(start_from) if start_from else None,
            start_to=utc_naive(start_to) if start_to else None,
            q=q.strip() if q and q.strip() else None,
            featured=featured,
        )
        items, total = await queries.list_public(s, lang, page, filters)
    return paginated(items, page, total)


async def _calendar(request: Request, db, lang: str, filters: queries.Filters) -> Response:
    async with db.session() as s:
        rows = await queries.select_public(s, lang, filters, for_calendar=True)
        lineups = await queries.lineups(s, [r["id"] for r in rows])
    body = ics.calendar(rows, lineups, name=request.app.state.settings.catalog_calendar_name)
    return Response(body, media_type=ICS_MEDIA_TYPE)


@router.get("/events/{slug}.ics", summary="One event as an iCalendar file", response_class=Response)
async def event_ics(slug: str, request: Request, db: Db, lang: Lang) -> Response:
    async with db.session() as s:
        row = await queries.find_public_row(s, slug, lang)
        if row is None:
            raise NotFound(f"Event '{slug}' not found")
    body = ics.calendar([row], {row["id"]: row["lineup"]}, name=request.app.state.settings.catalog_calendar_name)
    return Response(body, media_type=ICS_MEDIA_TYPE)


@router.get("/events/{slug}", summary="One event with its lineup and location")
async def get_event(slug: str, db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        row = await queries.find_public_row(s, slug, lang)
        if row is None:
            raise NotFound(f"Event '{slug}' not found")
        location = await location_queries.find_public_by_id(s, row["location_id"], lang)
    event = queries.to_public(row, row["lineup"])
    event["location"] = location
    return ok(event)


@router.get("/calendar.ics", summary="Upcoming (and last month's) events as an iCalendar feed", response_class=Response)
async def calendar_ics(
    request: Request, db: Db, lang: Lang, location: SlugFilter = None, artist: SlugFilter = None
) -> Response:
    async with db.session() as s:
        filters = queries.Filters(
            location_id=await _id_for(s, "locations", location, "location"),
            artist_id=await _id_for(s, "artists", artist, "artist"),
            ended_since=queries.recent_past(),
        )
    return await _calendar(request, db, lang, filters)
