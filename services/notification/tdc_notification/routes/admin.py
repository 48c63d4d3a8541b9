"""`/api/v1/admin/notifications/*`: the queue for admins: filter, inspect, retry, cancel, summary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from tdc_shared.auth import AdminUser
from tdc_shared.db import Row
from tdc_shared.envelope import Conflict, NotFound, ok
from tdc_shared.pagination import Pagination, paginated

from ..clock import iso
from ..deps import Db, Notify
from ..kinds import KINDS
from ..queries import mails

router = APIRouter(prefix="/api/v1/admin/notifications", tags=["admin notifications"])

Status = Literal["pending", "sending", "sent", "failed", "cancelled"]
MailKind = Literal[
    "verify_email",
    "password_reset",
    "registration_attempt",
    "role_changed",
    "welcome",
    "supporter_thanks",
    "event_cancelled",
    "event_reminder",
    "newsletter",
]
MailId = Annotated[int, Path(ge=1, le=2**63 - 1)]
assert set(MailKind.__args__) == set(KINDS)  # type: ignore[attr-defined]


def admin_mail_out(row: Row) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "user_id": row["user_id"],
        "kind": row["kind"],
        "subject_ref": row["subject_ref"],
        "to": row["to_address"],
        "language": row["language"],
        "subject": row["subject"],
        "priority": int(row["priority"]),
        "status": row["status"],
        "attempts": int(row["attempts"]),
        "message_id": row["message_id"],
        "last_error": row["last_error"],
        "due_at": iso(row["due_at"]),
        "created_at": iso(row["created_at"]),
        "sent_at": iso(row["sent_at"]),
    }


@router.get("/queue", summary="The mail queue, newest first, filtered by status, kind or address")
async def queue(
    _: AdminUser,
    db: Db,
    page: Pagination,
    status: Status | None = None,
    kind: MailKind | None = None,
    address: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
) -> JSONResponse:
    async with db.session() as s:
        rows, total = await mails.admin_list(
            s, status=status, kind=kind, address=address, offset=page.offset, limit=page.limit
        )
    return paginated([admin_mail_out(r) for r in rows], page, total)


@router.get("/queue/{mail_id}", summary="One mail and every SMTP attempt with the server's reply")
async def one_mail(mail_id: MailId, _: AdminUser, db: Db) -> JSONResponse:
    async with db.session() as s:
        row = await mails.by_id(s, mail_id)
        if row is None:
            raise NotFound("No such mail")
        attempts = await mails.attempts_of(s, mail_id)
    return ok(
        {
            **admin_mail_out(row),
            "attempt_log": [
                {
                    "attempted_at": iso(a["attempted_at"]),
                    "outcome": a["outcome"],
                    "smtp_code": a["smtp_code"],
                    "smtp_reply": a["smtp_reply"],
                }
                for a in attempts
            ],
        }
    )


@router.post("/queue/{mail_id}/retry", summary="Send a failed mail again")
async def retry(mail_id: MailId, _: AdminUser, db: Db, notifier: Notify) -> JSONResponse:
    async with db.transaction() as tx:
        row = await mails.by_id(tx, mail_id, lock=True)
        if row is None:
            raise NotFound("No such mail")
        if row["status"] != "failed":
            raise Conflict(f"Only a failed mail can be retried; this one is {row['status']}")
        if KINDS[row["kind"]].security and row["context"] is None:
            raise Conflict("This mail's one-time link is no longer kept: the user must ask for a new one")
        await mails.retry(tx, mail_id, notifier.clock.now())
        tx.after_commit(notifier.wake)
        row = await mails.by_id(tx, mail_id)
    assert row is not None
    return ok(admin_mail_out(row))


@router.post("/queue/{mail_id}/cancel", summary="Cancel a mail that has not been sent yet")
async def cancel(mail_id: MailId, _: AdminUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        row = await mails.by_id(tx, mail_id, lock=True)
        if row is None:
            raise NotFound("No such mail")
        if row["status"] != "pending":
            raise Conflict(f"Only a pending mail can be cancelled; this one is {row['status']}")
        await mails.cancel(tx, mail_id)
        row = await mails.by_id(tx, mail_id)
    assert row is not None
    return ok(admin_mail_out(row))


@router.get("/summary", summary="Figures for the admin dashboard's notification section")
async def summary(_: AdminUser, db: Db, notifier: Notify) -> JSONResponse:
    async with db.session() as s:
        figures = await mails.summary(s, notifier.clock.now())
    figures["oldest_due_at"] = iso(figures["oldest_due_at"])
    return ok(figures)
