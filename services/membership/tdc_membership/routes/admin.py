"""/api/v1/admin/patreon: status, supporters, tiers and their texts, deliveries, sync, summary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from tdc_shared.auth import AdminUser
from tdc_shared.envelope import Conflict, NotFound, ok
from tdc_shared.events import publish
from tdc_shared.pagination import Pagination, paginated

from ..deps import Db, ReconcilerDep, Settings
from ..models import TierId, TierTranslations
from ..queries import deliveries as delivery_queries
from ..queries import exclusive as item_queries
from ..queries import supporters as supporter_queries
from ..queries import sync as sync_queries
from ..queries import tiers as tier_queries
from ..queries.common import iso_utc, utc_now
from ..queries.summary import summary as summary_query

router = APIRouter(prefix="/api/v1/admin/patreon", tags=["admin: patreon"])


@router.get("/status", summary="Whether Patreon is configured, and what is missing")
async def status(_: AdminUser, db: Db, settings: Settings) -> JSONResponse:
    missing = settings.missing_patreon_settings()
    async with db.session() as s:
        runs = await sync_queries.recent(s, 1)
    return ok(
        {
            "configured": not missing,
            "message": "Patreon is configured" if not missing else "Patreon is not configured",
            "missing": missing,
            "api_url": settings.membership_patreon_api_url,
            "campaign_id": settings.membership_patreon_campaign_id or None,
            "can_read_members": settings.can_read_members,
            "can_link": settings.can_link,
            "webhooks": bool(settings.membership_patreon_webhook_secret),
            "last_sync": runs[0] if runs else None,
        }
    )


@router.get("/supporters", summary="Supporters with their emails: search, filter by tier and status")
async def supporters(
    _: AdminUser,
    db: Db,
    page: Pagination,
    q: Annotated[str | None, Query(max_length=100)] = None,
    tier_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Literal["active", "inactive", "linked", "unlinked"] | None = None,
) -> JSONResponse:
    filters = supporter_queries.SupporterFilters(q=q.strip() if q else None, tier_id=tier_id, status=status)
    async with db.session() as s:
        items, total = await supporter_queries.search(s, filters, page)
    return paginated(items, page, total)


@router.get("/tiers", summary="Tiers as Patreon has them, with our texts per language")
async def tiers(_: AdminUser, db: Db) -> JSONResponse:
    async with db.session() as s:
        return ok(await tier_queries.list_admin(s))


@router.get("/tiers/{tier_id}", summary="One tier with its texts")
async def tier(tier_id: TierId, _: AdminUser, db: Db) -> JSONResponse:
    async with db.session() as s:
        found = await tier_queries.find_admin(s, tier_id)
    if found is None:
        raise NotFound("Tier not found")
    return ok(found)


@router.put("/tiers/{tier_id}/translations", summary="Set a tier's title, description and benefits per language")
async def tier_translations(tier_id: TierId, body: TierTranslations, _: AdminUser, db: Db) -> JSONResponse:
    translations: dict[str, dict[str, Any]] = {
        str(lang): text.model_dump(exclude_unset=True) for lang, text in body.translations.items()
    }
    async with db.transaction() as tx:
        if await tier_queries.find_admin(tx, tier_id) is None:
            raise NotFound("Tier not found")
        await tier_queries.set_translations(tx, tier_id, translations)
        await publish(tx, "membership.tier.updated", await tier_queries.bus_payload(tx, tier_id), source="membership")
        found = await tier_queries.find_admin(tx, tier_id)
    return ok(found)


@router.get("/webhooks", summary="The deliveries log: trigger, time, verified, outcome")
async def webhooks(
    _: AdminUser,
    db: Db,
    page: Pagination,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    verified: bool | None = None,
) -> JSONResponse:
    async with db.session() as s:
        items, total = await delivery_queries.page_of(s, page, outcome, verified)
    return paginated(items, page, total)


@router.get("/sync", summary="Reconciliation: recent runs and whether one is going on")
async def sync_status(_: AdminUser, db: Db, settings: Settings) -> JSONResponse:
    async with db.session() as s:
        runs = await sync_queries.recent(s)
        lease = await sync_queries.lease(s)
    held = bool(lease and lease["holder"] and lease["expires_at"] and lease["expires_at"] > utc_now())
    return ok(
        {
            "configured": settings.can_read_members,
            # A replica holds an unexpired lease; a run left `running` without one was interrupted
            # and waits for the next holder to resume it.
            "running": held,
            "lease_expires_at": iso_utc(lease["expires_at"]) if held and lease else None,
            "interval_seconds": settings.membership_reconcile_interval_seconds,
            "runs": runs,
        }
    )


@router.post("/sync", status_code=202, summary="Run a reconciliation now")
async def sync_now(_: AdminUser, request: Request, reconciler: ReconcilerDep) -> JSONResponse:
    if not await reconciler.claim():
        raise Conflict("A reconciliation is already running")
    reconciler.start_in_background("admin")
    return ok({"started": True}, status=202)


@router.get("/summary", summary="The membership section of the admin dashboard")
async def summary(_: AdminUser, db: Db, settings: Settings) -> JSONResponse:
    async with db.session() as s:
        figures = await summary_query(s)
        runs = await sync_queries.recent(s, 1)
        figures["exclusive"] = await item_queries.count(s)
        figures["webhooks_last_7_days"] = await delivery_queries.counts_since(s, 7)
    figures["configured"] = not settings.missing_patreon_settings()
    figures["last_sync"] = runs[0] if runs else None
    return ok(figures)
