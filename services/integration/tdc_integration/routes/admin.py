"""/api/v1/admin/integrations: status, the call log, resync, failed pushes, the Facebook token (admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tdc_shared.auth import AdminUser
from tdc_shared.envelope import Conflict, NotFound, Unprocessable, no_content, ok
from tdc_shared.pagination import Pagination, paginated

from .. import status as integration_status
from ..deps import Box, Db, Problems, Settings
from ..queries import events as event_queries
from ..queries import logs as log_queries
from ..queries import pushes as push_queries
from ..queries import state as state_queries
from ..timefmt import utc_now
from ..worker import wake_workers

router = APIRouter(prefix="/api/v1/admin/integrations", tags=["admin: integrations"])

IntegrationName = Literal["google", "facebook"]


@router.get("", summary="Each integration: enabled, disabled, needs_reauth or paused, last success, pushes waiting")
async def integrations(db: Db, settings: Settings, box: Box, problems: Problems, _: AdminUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await integration_status.report(s, settings, box, problems))


@router.get("/summary", summary="The integration section of the admin dashboard")
async def summary(db: Db, settings: Settings, box: Box, problems: Problems, _: AdminUser) -> JSONResponse:
    async with db.session() as s:
        report = await integration_status.report(s, settings, box, problems)
        errors = await s.fetch_value(
            "SELECT COUNT(*) FROM integration_logs WHERE status = 'error'"
            " AND created_at > UTC_TIMESTAMP() - INTERVAL 1 DAY"
        )
    return ok(
        {
            "integrations": {
                item["name"]: {k: item[k] for k in ("state", "last_success_at", "pending", "failed")} for item in report
            },
            "pending": sum(item["pending"] for item in report),
            "failed": sum(item["failed"] for item in report),
            "errors_last_24h": int(errors or 0),
        }
    )


@router.get("/log", summary="Every call to Google and Facebook, newest first, secrets redacted")
async def call_log(
    db: Db,
    page: Pagination,
    _: AdminUser,
    integration: IntegrationName | None = None,
    status: Literal["ok", "error"] | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    event_id: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    filters = {"integration": integration, "status": status, "action": action, "event_id": event_id}
    async with db.session() as s:
        items, total = await log_queries.listing(s, filters, page.limit, page.offset)
    return paginated(items, page, total)


@router.get("/pushes", summary="Pushes, newest change first (status=failed for those needing a hand)")
async def list_pushes(
    db: Db,
    page: Pagination,
    _: AdminUser,
    integration: IntegrationName | None = None,
    status: Literal["pending", "done", "failed", "dropped"] | None = None,
) -> JSONResponse:
    async with db.session() as s:
        items, total = await push_queries.listing(s, integration, status, page.limit, page.offset)
    return paginated(items, page, total)


async def _waiting_push(db: Db, push_id: int) -> dict:
    async with db.transaction() as tx:
        row = await push_queries.find(tx, push_id, lock=True)
        if row is None:
            raise NotFound("Push not found")
        if row["status"] not in ("pending", "failed"):
            raise Conflict(f"A {row['status']} push cannot be retried or dropped")
    return row


@router.post("/pushes/{push_id}/retry", summary="Try a pending or failed push again now")
async def retry_push(push_id: int, db: Db, _: AdminUser) -> JSONResponse:
    await _waiting_push(db, push_id)
    async with db.transaction() as tx:
        await push_queries.retry_now(tx, push_id)
        tx.after_commit(wake_workers)
        row = await push_queries.find(tx, push_id)
    assert row is not None
    return ok(push_queries.public(row))


@router.delete(
    "/pushes/{push_id}", status_code=204, summary="Drop a pending or failed push (it will not be tried again)"
)
async def drop_push(push_id: int, db: Db, _: AdminUser) -> Response:
    await _waiting_push(db, push_id)
    async with db.transaction() as tx:
        await push_queries.drop(tx, push_id)
    return no_content()


@router.post("/resync", summary="Push every upcoming event again to every target (from this service's read model)")
async def resync(db: Db, _: AdminUser) -> JSONResponse:
    async with db.transaction() as tx:
        ids = await event_queries.upcoming_ids(tx, utc_now())
        targets = await push_queries.targets(tx)
        for catalog_id in ids:
            await push_queries.request_all(tx, catalog_id)
        tx.after_commit(wake_workers)
    return ok({"events": len(ids), "pushes": len(ids) * len(targets)}, status=202)


class PageToken(BaseModel):
    """A new Facebook Page access token for the club's page; stored encrypted, never shown again."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": "EAAGm0PX4ZCpsBO7ZBnqW3fZC8kVZAxL2rT9dQeJ5hYc1uN"}]},
    )
    token: str = Field(min_length=20, max_length=1000, description="A Page access token with pages_manage_posts")


@router.put("/facebook/token", summary="Set a new Facebook page token (kept encrypted); ends needs_reauth")
async def set_facebook_token(body: PageToken, db: Db, box: Box, settings: Settings, _: AdminUser) -> JSONResponse:
    token = body.token.strip()
    if not token or any(c.isspace() for c in token):
        raise Unprocessable(errors={"token": ["must not contain spaces"]})
    async with db.transaction() as tx:
        await state_queries.set_token(tx, "facebook", box.seal(token))
        await push_queries.wake(tx, "facebook")
        tx.after_commit(wake_workers)
        status = await integration_status.read(tx, "facebook", settings, box)
    return ok({"name": "facebook", "state": status.state, "reason": status.reason})
