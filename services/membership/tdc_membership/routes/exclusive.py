"""/api/v1/exclusive: supporters' content, gated on the verified token's Patreon claims."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tdc_shared.auth import Claims, CurrentUser
from tdc_shared.envelope import Forbidden, NotFound, ok
from tdc_shared.i18n import Lang

from ..deps import Db, Settings
from ..gate import refusal
from ..models import ItemId
from ..queries import exclusive as item_queries
from ..queries import tiers as tier_queries
from ..settings import MembershipSettings
from ..signatures import download_query

router = APIRouter(prefix="/api/v1/exclusive", tags=["exclusive"])


def _unlocks(item: dict[str, Any], tiers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tier_id = item["required_tier_id"]
    if tier_id is None:
        return {"any_supporter": True, "tier": None}
    tier = tiers.get(tier_id)
    return {
        "any_supporter": False,
        "tier": {"id": tier_id, "title": tier["title"] if tier else None, "amount_cents": item["required_cents"]},
    }


def _teaser(item: dict[str, Any], claims: Claims, language: str, tiers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    texts = item_queries.texts(item, language)
    return {
        "id": item["id"],
        "kind": item["kind"],
        "title": texts["title"],
        "summary": texts["summary"],
        "locked": refusal(claims, item) is not None,
        "unlocks": _unlocks(item, tiers),
    }


def _content(item: dict[str, Any], language: str, settings: MembershipSettings) -> dict[str, Any]:
    texts = item_queries.texts(item, language)
    content: dict[str, Any] = {"body": texts["body"], "url": item["url"], "download": None}
    if item["file_key"]:
        query = download_query(
            settings.membership_download_secret, item["id"], item["file_key"], settings.membership_download_ttl_seconds
        )
        content["download"] = {
            "url": f"/api/v1/support/downloads/{item['id']}?expires={query['expires']}&signature={query['signature']}",
            "name": item["file_name"],
            "content_type": item["file_type"],
            "size": item["file_size"],
            "expires_at": int(query["expires"]),
        }
    return content


async def _tiers(db: Any, language: str) -> dict[str, dict[str, Any]]:
    async with db.session() as s:
        return {t["id"]: t for t in await tier_queries.list_public(s, language)}


@router.get("", summary="Exclusive items, each with `locked` and what unlocks it")
async def list_items(user: CurrentUser, db: Db, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        items = await item_queries.list_published(s)
    tiers = await _tiers(db, lang)
    return ok([_teaser(item, user, lang, tiers) for item in items])


@router.get("/{item_id}", summary="One exclusive item, with its content when the caller's tier opens it")
async def get_item(item_id: ItemId, user: CurrentUser, db: Db, settings: Settings, lang: Lang) -> JSONResponse:
    async with db.session() as s:
        item = await item_queries.find_published(s, item_id)
    if item is None:
        raise NotFound("Exclusive item not found")
    reason = refusal(user, item)
    if reason is not None:
        raise Forbidden(reason)
    tiers = await _tiers(db, lang)
    return ok({**_teaser(item, user, lang, tiers), "content": _content(item, lang, settings)})
