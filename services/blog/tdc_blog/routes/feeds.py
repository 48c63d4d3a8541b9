"""/api/v1/blog/feed.rss and /feed.atom: the latest posts of one language, optionally of one
category. The same for every caller (no body is ever in a feed), so the answer cache keeps
them; ETag and Last-Modified let readers poll cheaply."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tdc_shared.cache import etag_matches
from tdc_shared.envelope import NotFound
from tdc_shared.i18n import Lang

from ..deps import Db, Feeds, Settings
from ..feeds import FeedFormat
from ..queries import posts as queries
from ..queries import taxonomy
from .posts import SlugFilter

router = APIRouter(prefix="/api/v1/blog", tags=["blog: feeds"])

MEDIA_TYPES = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}


def _etag(body: bytes) -> bytes:
    # The same hash the answer cache puts on what it keeps, so both give a feed one ETag.
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def _not_modified_since(header: str | None, last_modified: datetime) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since is None or since.tzinfo is None:
        return False
    return last_modified <= since


async def _feed(
    fmt: FeedFormat, request: Request, db: Db, lang: str, feeds: Feeds, settings: Settings, category: str | None
) -> Response:
    async with db.session() as s:
        chosen = None
        if category:
            chosen = next((c for c in await taxonomy.public_categories(s, lang) if c["slug"] == category), None)
            if chosen is None:
                raise NotFound("Category not found")
        rows, _ = await queries.list_public(
            s, lang, queries.Filters(category=category), settings.blog_feed_size, count=False
        )
    body, last_modified = feeds.build(fmt, lang, rows, chosen)
    etag = _etag(body)
    headers = {"ETag": etag.decode(), "Last-Modified": format_datetime(last_modified, usegmt=True)}
    if_none_match = request.headers.get("if-none-match")
    if etag_matches(if_none_match.encode() if if_none_match else None, etag) or (
        if_none_match is None and _not_modified_since(request.headers.get("if-modified-since"), last_modified)
    ):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/feed.rss", summary="RSS 2.0 feed of the latest posts in one language", response_class=Response)
async def rss(
    request: Request, db: Db, lang: Lang, feeds: Feeds, settings: Settings, category: SlugFilter = None
) -> Response:
    return await _feed("rss", request, db, lang, feeds, settings, category)


@router.get("/feed.atom", summary="Atom 1.0 feed of the latest posts in one language", response_class=Response)
async def atom(
    request: Request, db: Db, lang: Lang, feeds: Feeds, settings: Settings, category: SlugFilter = None
) -> Response:
    return await _feed("atom", request, db, lang, feeds, settings, category)
