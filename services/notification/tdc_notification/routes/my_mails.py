"""`GET /api/v1/user/notifications`: the caller's own recent mails."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tdc_shared.auth import CurrentUser
from tdc_shared.db import Row
from tdc_shared.pagination import Pagination, paginated

from ..clock import iso
from ..deps import Db
from ..queries import mails

router = APIRouter(prefix="/api/v1/user/notifications", tags=["my notifications"])


def mail_out(row: Row) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "kind": row["kind"],
        "subject": row["subject"],
        "status": row["status"],
        "due_at": iso(row["due_at"]),
        "created_at": iso(row["created_at"]),
        "sent_at": iso(row["sent_at"]),
    }


@router.get("", summary="My recent mails, newest first")
async def my_mails(claims: CurrentUser, db: Db, page: Pagination) -> JSONResponse:
    async with db.session() as s:
        rows, total = await mails.of_user(s, claims.user_id, page.offset, page.limit)
    return paginated([mail_out(r) for r in rows], page, total)
