"""/api/v1/support: the public support page, the supporters' wall, Patreon's return from
linking, and signed downloads of exclusive files."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from tdc_shared.envelope import ApiError, Forbidden, NotFound, ok
from tdc_shared.i18n import Lang
from tdc_shared.pagination import Pagination, paginated

from .. import linking
from ..deps import Db, Patreon, Settings
from ..models import ItemId
from ..queries import exclusive as item_queries
from ..queries import supporters as supporter_queries
from ..queries import tiers as tier_queries
from ..signatures import download_ok

router = APIRouter(prefix="/api/v1/support", tags=["support"])


@router.get("", summary="The support page: campaign link, tiers, how many support us")
async def support_page(db: Db, settings: Settings, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        tiers = await tier_queries.list_public(s, lang)
        count = await supporter_queries.count_active(s)
        url = settings.membership_patreon_campaign_url or await tier_queries.campaign_url(s)
    return ok({"campaign_url": url, "tiers": tiers, "supporter_count": count})


@router.get("/supporters", summary="The supporters' wall: display names of those who chose to appear")
async def supporters_wall(db: Db, lang: Lang, page: Pagination) -> JSONResponse:
    async with db.session() as s:
        items, total = await supporter_queries.wall(s, lang, page)
    return paginated(items, page, total)


@router.get(
    "/patreon/callback",
    summary="Where Patreon sends the browser back after linking; redirects to the frontend",
    status_code=303,
    response_class=RedirectResponse,
)
async def patreon_callback(
    db: Db,
    settings: Settings,
    patreon: Patreon,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    if not settings.can_link:
        reason: str | None = "not_configured"
    else:
        reason = await linking.callback(db, settings, patreon, code=code, state=state, error=error)
    outcome = "linked" if reason is None else "error"
    return RedirectResponse(linking.frontend_redirect(settings, outcome, reason), status_code=303)


@router.get("/downloads/{item_id}", summary="An exclusive item's file, through a signed link that expires")
async def download(
    item_id: ItemId,
    db: Db,
    settings: Settings,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$")],
) -> FileResponse:
    async with db.session() as s:
        item = await item_queries.find(s, item_id)
    key = item["file_key"] if item else None
    # The same answer for an unknown item and a wrong signature: a link is good or it is not.
    secret = settings.membership_download_secret
    if item is None or key is None or not download_ok(secret, item_id, key, expires, signature):
        raise Forbidden("Download link is invalid")
    if expires < time.time():
        raise ApiError("Download link has expired", status=410)
    path = settings.membership_files_dir / key
    if not path.is_file():
        raise NotFound("File not found")
    return FileResponse(
        path,
        media_type=item["file_type"] or "application/octet-stream",
        filename=item["file_name"] or f"item-{item_id}",
        headers={"Cache-Control": "private, no-store"},
    )
