"""/api/v1/user/membership: my standing, linking and unlinking Patreon, the wall opt-in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import CurrentUser
from tdc_shared.envelope import Conflict, NotFound, ServiceUnavailable, no_content, ok
from tdc_shared.i18n import Lang

from .. import linking
from ..deps import NOT_CONFIGURED, Db, Patreon, Settings
from ..models import WallChoice
from ..queries import supporters as supporter_queries
from ..queries import tiers as tier_queries
from ..queries.common import iso_utc

router = APIRouter(prefix="/api/v1/user/membership", tags=["membership"])


@router.get("", summary="My standing: linked or not, tier, patron status, since when")
async def my_membership(user: CurrentUser, db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        row = await supporter_queries.find_by_user(s, user.user_id)
        tier = await tier_queries.find_public(s, row["tier_id"] if row else None, lang)
    if row is None:
        return ok({"linked": False, "active": False, "patron_status": None, "tier": None, "since": None, "wall": None})
    return ok(
        {
            "linked": True,
            "patreon_user_id": row["patreon_user_id"],
            "full_name": row["full_name"],
            "active": bool(row["is_active"]),
            "patron_status": row["patron_status"],
            "tier": (
                {"id": tier["id"], "title": tier["title"], "amount_cents": tier["amount_cents"]} if tier else None
            ),
            "amount_cents": row["amount_cents"],
            "since": iso_utc(row["patron_since"]),
            "linked_at": iso_utc(row["linked_at"]),
            "wall": {
                "show": bool(row["wall_opt_in"]),
                "display_name": row["wall_name"],
                "show_tier": bool(row["wall_show_tier"]),
            },
        }
    )


@router.post("/patreon/link", summary="Start linking my Patreon account: the address to send the browser to")
async def start_link(user: CurrentUser, db: Db, settings: Settings, patreon: Patreon) -> JSONResponse:
    if not settings.can_link:
        raise ServiceUnavailable(NOT_CONFIGURED)
    started = await linking.start(db, settings, patreon, user.user_id)
    return ok({"authorization_url": started.authorization_url, "expires_at": iso_utc(started.expires_at)})


@router.delete("/patreon", status_code=204, summary="Unlink my Patreon account")
async def unlink(user: CurrentUser, db: Db) -> Response:
    async with db.transaction() as tx:
        if not await linking.unlink(tx, user.user_id):
            raise NotFound("No Patreon account is linked")
    return no_content()


@router.put("/wall", summary="Appear on the supporters' wall, or not")
async def set_wall(body: WallChoice, user: CurrentUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        row = await supporter_queries.lock_by_user(tx, user.user_id)
        if row is None:
            raise Conflict("Link your Patreon account first")
        name = body.display_name if body.show else None
        await supporter_queries.set_wall(tx, row["id"], body.show, name, body.show and body.show_tier)
    return ok({"show": body.show, "display_name": name, "show_tier": body.show and body.show_tier})
