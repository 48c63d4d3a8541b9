"""/api/v1/events, its ICS form, and /api/v1/calendar.ics (public)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.cache import etag_matches, etag_of, not_modified_since
from tdc_shared.envelope import NotFound, Unprocessable, ok
from tdc_shared.i18n import Lang
from tdc_shared.pagination import ListPagination

from .. import ics
from ..deps import Db
from ..models import IsoDateTime
from ..queries import checkins as checkin_queries
from ..queries import events as queries
from ..queries import locations as location_queries
from ..queries import search
from ..queries.common import utc_naive
from .common import event_list

router = APIRouter(prefix="/api/v1", tags=["events"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
SlugFilter = Annotated[str | None, Query(max_length=100)]
# Tables whose slug a filter names (constants: the table name goes into the SQL text).
_FILTER_TABLES = {"location": "locations", "artist": "artists"}


async def _id_for(s, field: str, slug: str | None) -> int | None:
    if slug is None:
        return None
    table = _FILTER_TABLES[field]
    found = await queries.active_id_by_slug(s, table, slug)
    if found is None:
        # An unknown filter value matches nothing; say so instead of an empty list.
        raise NotFound(f"No {field} '{slug}'")
    return found


def _check_years(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and not 1970 <= value.year <= 2200:
            raise Unprocessable(errors={name: ["must be between the years 1970 and 2200"]})


def _search_query(q: str | None) -> str | None:
    """The boolean-mode query for `q`, or None for no search; 422 for what the index cannot find."""
    if q is None or not q.strip():
        return None
    if len(q.strip()) < search.MIN_WORD:
        raise Unprocessable(
            "Search words need at least 3 characters", errors={"q": ["must be at least 3 characters long"]}
        )
    found = search.words(q)
    if not found:
        raise Unprocessable(
            "Search words need at least 3 characters",
            errors={"q": ["needs a word of at least 3 letters or digits"]},
        )
    return search.boolean_query(found)


@router.get("/events", summary="Events, upcoming by default, sorted by start")
async def list_events(
    db: Db,
    lang: Lang,
    page: ListPagination,
    start_from: Annotated[
        IsoDateTime | None, Query(alias="from", description="Starting at or after (UTC if no offset)")
    ] = None,
    start_to: Annotated[IsoDateTime | None, Query(alias="to", description="Starting before (UTC if no offset)")] = None,
    location: SlugFilter = None,
    artist: SlugFilter = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Words of the title, subtitle or description in the answer's language (English where "
            "untranslated) or of an artist's name; each word at least 3 characters, all required, prefixes match",
        ),
    ] = None,
    featured: bool | None = None,
) -> JSONResponse:
    _check_years(**{"from": start_from, "to": start_to})
    if start_from and start_to and utc_naive(start_to) <= utc_naive(start_from):
        raise Unprocessable(errors={"to": ["must be after from"]})
    text = _search_query(q)
    async with db.session() as s:
        filters = queries.Filters(
            location_id=await _id_for(s, "location", location),
            artist_id=await _id_for(s, "artist", artist),
            start_from=utc_naive(start_from) if start_from else None,
            start_to=utc_naive(start_to) if start_to else None,
            q=text,
            language=lang,
            featured=featured,
        )
        found = await queries.list_public(s, lang, page, filters)
    return event_list(found, page)


def _http_date(value: datetime) -> str:
    return format_datetime(value.replace(tzinfo=UTC), usegmt=True)


def _calendar_answer(request: Request, body: bytes, rows: list[dict[str, Any]]) -> Response:
    """The ICS bytes with ETag and Last-Modified, or 304 when the client holds them already.

    The cache middleware gives the same ETag (a hash of the bytes) and answers its hits itself;
    this is the answer of a miss, or of a service running without the cache.
    """
    etag = etag_of(body)
    last_modified = max((r["updated_at"] for r in rows), default=None)
    headers = {"ETag": etag.decode()}
    if last_modified is not None:
        headers["Last-Modified"] = _http_date(last_modified)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        unchanged = etag_matches(if_none_match.encode("latin-1"), etag)
    else:
        stamp = last_modified.replace(tzinfo=UTC) if last_modified else None
        unchanged = not_modified_since(request.headers.get("if-modified-since"), stamp)
    if unchanged:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ICS_MEDIA_TYPE, headers=headers)


@router.get("/events/{slug}.ics", summary="One event as an iCalendar file", response_class=Response)
async def event_ics(slug: str, request: Request, db: Db, lang: Lang) -> Response:
    async with db.session() as s:
        row = await queries.find_public_row(s, slug, lang)
        if row is None:
            raise NotFound(f"Event '{slug}' not found")
    body = ics.calendar([row], {row["id"]: row["lineup"]}, name=request.app.state.settings.catalog_calendar_name)
    return _calendar_answer(request, body, [row])


@router.get("/events/{slug}", summary="One event with its lineup and location, and whether it is live")
async def get_event(slug: str, db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        row = await queries.find_public_row(s, slug, lang)
        if row is None:
            raise NotFound(f"Event '{slug}' not found")
        location = await location_queries.find_public_by_id(s, row["location_id"], lang)
        live = await checkin_queries.live(s, row["id"], row["start_utc"], row["end_utc"])
    event = queries.to_public(row, row["lineup"])
    event["location"] = location
    event["live"] = live
    return ok(event)


@router.get(
    "/calendar.ics",
    summary="Upcoming events (180 days) and the last 30 days' as an iCalendar feed, at most 300 events",
    description=(
        "Without `from`/`to`: events not yet ended that start within 180 days, plus up to 60 of the most "
        "recent ones that ended within 30 days (so clients see late cancellations). With `from` and/or `to`: "
        "the events starting in that window (a missing end is 180 days after the other; at most 400 days "
        "wide). At most 300 events either way, the earliest first. `ETag` and `Last-Modified` let a "
        "subscribed client poll with `If-None-Match`/`If-Modified-Since` and get 304."
    ),
    response_class=Response,
)
async def calendar_ics(
    request: Request,
    db: Db,
    lang: Lang,
    location: SlugFilter = None,
    artist: SlugFilter = None,
    start_from: Annotated[
        IsoDateTime | None, Query(alias="from", description="Starting at or after (UTC if no offset)")
    ] = None,
    start_to: Annotated[IsoDateTime | None, Query(alias="to", description="Starting before (UTC if no offset)")] = None,
) -> Response:
    _check_years(**{"from": start_from, "to": start_to})
    window = start_from is not None or start_to is not None
    begin = utc_naive(start_from) if start_from else None
    end = utc_naive(start_to) if start_to else None
    if window:
        begin = begin or end - queries.CALENDAR_AHEAD  # type: ignore[operator]
        end = end or begin + queries.CALENDAR_AHEAD
        if end <= begin:
            raise Unprocessable(errors={"to": ["must be after from"]})
        if end - begin > queries.CALENDAR_MAX_WINDOW:
            raise Unprocessable(errors={"to": [f"at most {queries.CALENDAR_MAX_WINDOW.days} days after from"]})
    async with db.session() as s:
        filters = queries.Filters(
            location_id=await _id_for(s, "location", location),
            artist_id=await _id_for(s, "artist", artist),
            start_from=begin,
            start_to=end,
        )
        rows = await queries.calendar_rows(s, lang, filters, window)
        lineups = await queries.lineups(s, [r["id"] for r in rows])
    body = ics.calendar(rows, lineups, name=request.app.state.settings.catalog_calendar_name)
    return _calendar_answer(request, body, rows)
