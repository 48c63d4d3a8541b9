"""/api/v1/admin/blog/summary: the blog's section of the admin dashboard."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tdc_shared.auth import StaffUser
from tdc_shared.envelope import ok

from ..deps import Db
from ..queries import summary as queries
from ..queries.common import utc_now

router = APIRouter(prefix="/api/v1/admin/blog", tags=["admin: blog"])


@router.get("/summary", summary="Drafts, scheduled posts and posts published this month")
async def summary(db: Db, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        return ok(await queries.summary(s, utc_now()))
