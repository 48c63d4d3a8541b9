"""/api/v1/admin/integrations/sl: in-world objects (register, rotate, revoke), check-ins and
attendance (admins)."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tdc_shared.auth import AdminUser
from tdc_shared.envelope import Conflict, NotFound, created, ok
from tdc_shared.pagination import Pagination, paginated

from ..deps import Box, Db, Settings
from ..queries import sl as sl_queries
from ..timefmt import utc_now
from .sl import SLUG_PATTERN, UUID_PATTERN

router = APIRouter(prefix="/api/v1/admin/integrations/sl", tags=["admin: second life"])


class ObjectCreate(BaseModel):
    """An in-world object to register: what it does, the venue it stands at and its owner's key."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Nebula Dome check-in board",
                    "purpose": "checkin",
                    "location": "nebula-dome",
                    "owner_key": "6f3b2c1e-8d4a-4b7e-9f21-3c5d7a9e0b42",
                }
            ]
        },
    )
    name: str = Field(min_length=1, max_length=64)
    purpose: Literal["board", "checkin", "counter", "linker"]
    location: str = Field(min_length=1, max_length=191, pattern=SLUG_PATTERN, description="The location's slug")
    owner_key: str = Field(pattern=UUID_PATTERN, description="The avatar or group that owns the object in world")


def new_secret() -> str:
    # 32 characters of URL-safe base64 (192 bits): pasted into the object's script.
    return secrets.token_urlsafe(24)


@router.post("/objects", status_code=201, summary="Register an object; the answer shows its secret once")
async def register_object(body: ObjectCreate, db: Db, box: Box, admin: AdminUser) -> JSONResponse:
    secret = new_secret()
    object_id = f"slo_{secrets.token_hex(8)}"
    async with db.transaction() as tx:
        await sl_queries.create_object(
            tx,
            {
                "id": object_id,
                "name": body.name,
                "purpose": body.purpose,
                "location": body.location,
                "owner_key": body.owner_key.lower(),
                "secret_ciphertext": box.seal(secret),
                "created_by": admin.user_id,
            },
        )
        row = await sl_queries.find_object(tx, object_id)
    assert row is not None
    return created({**sl_queries.public_object(row), "secret": secret})


@router.get("/objects", summary="Registered objects (never their secrets)")
async def list_objects(db: Db, page: Pagination, _: AdminUser) -> JSONResponse:
    async with db.session() as s:
        items, total = await sl_queries.list_objects(s, page.limit, page.offset)
    return paginated(items, page, total)


async def _object(db: Db, object_id: str) -> dict:
    async with db.session() as s:
        row = await sl_queries.find_object(s, object_id)
    if row is None:
        raise NotFound("Object not found")
    return row


@router.get("/objects/{object_id}", summary="One object")
async def get_object(object_id: str, db: Db, _: AdminUser) -> JSONResponse:
    return ok(sl_queries.public_object(await _object(db, object_id)))


@router.post("/objects/{object_id}/rotate", summary="A new secret (shown once); the old one works for a grace period")
async def rotate(object_id: str, db: Db, box: Box, settings: Settings, _: AdminUser) -> JSONResponse:
    row = await _object(db, object_id)
    if row["revoked_at"] is not None:
        raise Conflict("A revoked object cannot get a new secret")
    secret = new_secret()
    async with db.transaction() as tx:
        await sl_queries.rotate_secret(tx, object_id, box.seal(secret), settings.integration_sl_secret_grace_seconds)
        fresh = await sl_queries.find_object(tx, object_id)
    assert fresh is not None
    return ok({**sl_queries.public_object(fresh), "secret": secret})


@router.post("/objects/{object_id}/revoke", summary="Refuse every request of this object from now on")
async def revoke(object_id: str, db: Db, _: AdminUser) -> JSONResponse:
    row = await _object(db, object_id)
    if row["revoked_at"] is not None:
        raise Conflict("The object is already revoked")
    async with db.transaction() as tx:
        await sl_queries.revoke(tx, object_id)
        fresh = await sl_queries.find_object(tx, object_id)
    assert fresh is not None
    return ok(sl_queries.public_object(fresh))


@router.get("/checkins", summary="Who checked in at which event, newest first")
async def checkins(
    db: Db,
    page: Pagination,
    _: AdminUser,
    event: Annotated[str | None, Query(max_length=191, pattern=SLUG_PATTERN)] = None,
) -> JSONResponse:
    async with db.session() as s:
        items, total = await sl_queries.list_checkins(s, event, page.limit, page.offset)
    return paginated(items, page, total)


@router.get("/attendance", summary="Visitors per event (the counters' reports during it), newest event first")
async def attendance(
    db: Db,
    page: Pagination,
    _: AdminUser,
    location: Annotated[str | None, Query(max_length=191, pattern=SLUG_PATTERN)] = None,
) -> JSONResponse:
    async with db.session() as s:
        items, total = await sl_queries.attendance(s, location, utc_now(), page.limit, page.offset)
    return paginated(items, page, total)
