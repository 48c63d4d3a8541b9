"""The mail queue: enqueueing once, claiming with SKIP LOCKED, recording each attempt."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tdc_shared.db import Row, Session

from ..kinds import KINDS, SECURITY_KINDS

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")

_SECURITY_IN = ", ".join(["%s"] * len(SECURITY_KINDS))


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


async def enqueue(
    tx: Session,
    *,
    key: str,
    user_id: int | None,
    kind: str,
    subject_ref: str | None,
    to: str,
    language: str,
    subject: str,
    context: dict[str, Any],
    due_at: datetime,
    now: datetime,
) -> bool:
    """Queue one mail unless its idempotency key is already there; True when queued."""
    inserted = await tx.execute(
        "INSERT IGNORE INTO mails (idempotency_key, user_id, kind, subject_ref, to_address, language, subject,"
        " context, priority, status, due_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s)",
        (
            key,
            user_id,
            kind,
            subject_ref,
            to,
            language,
            subject,
            json.dumps(context),
            KINDS[kind].priority,
            due_at,
            now,
        ),
    )
    return bool(inserted)


async def claim(tx: Session, *, now: datetime, limit: int, token: str, lease_until: datetime) -> list[int]:
    """Due rows nobody else holds, most urgent first; marked `sending` under our token."""
    rows = await tx.fetch_all(
        "SELECT id FROM mails WHERE status = 'pending' AND due_at <= %s ORDER BY priority, due_at, id LIMIT %s"
        " FOR UPDATE SKIP LOCKED",
        (now, limit),
    )
    ids = [int(r["id"]) for r in rows]
    if ids:
        await tx.execute(
            "UPDATE mails SET status = 'sending', claim_token = %s, lease_until = %s, smtp_started_at = NULL"  # noqa: S608 (placeholders only)
            f" WHERE id IN ({placeholders(len(ids))})",
            (token, lease_until, *ids),
        )
    return ids


async def for_sending(tx: Session, ids: list[int]) -> list[Row]:
    rows = await tx.fetch_all(
        "SELECT m.id, m.idempotency_key, m.user_id, m.kind, m.to_address, m.language, m.context, m.attempts,"  # noqa: S608 (placeholders only)
        " r.username FROM mails m LEFT JOIN recipients r ON r.user_id = m.user_id"
        f" WHERE m.id IN ({placeholders(len(ids))})",
        tuple(ids),
    )
    by_id = {int(r["id"]): r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


async def start_smtp(tx: Session, mail_id: int, token: str, now: datetime) -> bool:
    """Mark the SMTP exchange as begun; False when the claim was lost (lease ran out)."""
    return bool(
        await tx.execute(
            "UPDATE mails SET smtp_started_at = %s WHERE id = %s AND claim_token = %s AND status = 'sending'",
            (now, mail_id, token),
        )
    )


async def record_attempt(
    tx: Session,
    mail_id: int,
    *,
    token: str,
    outcome: str,
    code: int | None,
    reply: str,
    now: datetime,
    retry_at: datetime | None,
    message_id: str,
    subject: str | None,
) -> None:
    """One attempt's result. `retry_at` set: back to pending then; else `outcome` is final."""
    reply = reply[:1000]
    error = f"{code} {reply}"[:1000] if code is not None else reply
    await tx.execute(
        "INSERT INTO mail_attempts (mail_id, attempted_at, outcome, smtp_code, smtp_reply) VALUES (%s, %s, %s, %s, %s)",
        (mail_id, now, "retry" if retry_at is not None else outcome, code, reply),
    )
    if retry_at is not None:
        await tx.execute(
            "UPDATE mails SET status = 'pending', attempts = attempts + 1, due_at = %s, claim_token = NULL,"
            " lease_until = NULL, smtp_started_at = NULL, last_error = %s, message_id = %s,"
            " subject = COALESCE(%s, subject)"
            " WHERE id = %s AND claim_token = %s",
            (retry_at, error, message_id, subject, mail_id, token),
        )
        return
    # Final either way: a security link is not kept readable once it has left (or never will).
    await tx.execute(
        "UPDATE mails SET status = %s, attempts = attempts + 1, claim_token = NULL, lease_until = NULL,"  # noqa: S608 (placeholders only)
        " sent_at = CASE WHEN %s = 'sent' THEN %s ELSE sent_at END, last_error = %s, message_id = %s,"
        " subject = COALESCE(%s, subject),"
        f" context = CASE WHEN kind IN ({_SECURITY_IN}) THEN NULL ELSE context END"
        " WHERE id = %s AND claim_token = %s",
        (
            outcome,
            outcome,
            now,
            None if outcome == "sent" else error,
            message_id,
            subject,
            *SECURITY_KINDS,
            mail_id,
            token,
        ),
    )


async def release(tx: Session, ids: list[int], token: str) -> None:
    """Rows claimed but not begun (the sender is stopping): back to the queue as they were."""
    if ids:
        await tx.execute(
            "UPDATE mails SET status = 'pending', claim_token = NULL, lease_until = NULL"  # noqa: S608 (placeholders only)
            f" WHERE claim_token = %s AND smtp_started_at IS NULL AND id IN ({placeholders(len(ids))})",
            (token, *ids),
        )


async def recover_expired(tx: Session, now: datetime) -> int:
    """Claims whose sender died. Not begun: back to pending. Begun: the relay may have the mail,
    so it is not sent again (that would be the duplicate): failed, for an admin to judge."""
    unknown = await tx.execute(
        "UPDATE mails SET status = 'failed', attempts = attempts + 1, claim_token = NULL, lease_until = NULL,"  # noqa: S608 (placeholders only)
        " last_error = 'outcome unknown: the sender stopped during the SMTP exchange',"
        f" context = CASE WHEN kind IN ({_SECURITY_IN}) THEN NULL ELSE context END"
        " WHERE status = 'sending' AND lease_until < %s AND smtp_started_at IS NOT NULL",
        (*SECURITY_KINDS, now),
    )
    back = await tx.execute(
        "UPDATE mails SET status = 'pending', claim_token = NULL, lease_until = NULL"
        " WHERE status = 'sending' AND lease_until < %s AND smtp_started_at IS NULL",
        (now,),
    )
    return unknown + back


# -- reading -------------------------------------------------------------------------------

_LIST_COLUMNS = (
    "id, user_id, kind, subject_ref, to_address, language, subject, priority, status, due_at, attempts,"
    " message_id, last_error, created_at, sent_at"
)


async def of_user(tx: Session, user_id: int, offset: int, limit: int) -> tuple[list[Row], int]:
    total = await tx.fetch_value("SELECT COUNT(*) FROM mails WHERE user_id = %s", (user_id,))
    rows = await tx.fetch_all(
        "SELECT id, kind, subject, status, due_at, created_at, sent_at FROM mails WHERE user_id = %s"
        " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
        (user_id, limit, offset),
    )
    return rows, int(total or 0)


async def admin_list(
    tx: Session, *, status: str | None, kind: str | None, address: str | None, offset: int, limit: int
) -> tuple[list[Row], int]:
    # Each filter is "column = %s OR the parameter is NULL": one fixed statement, no assembly.
    where = "(%s IS NULL OR status = %s) AND (%s IS NULL OR kind = %s) AND (%s IS NULL OR to_address = %s)"
    params = (status, status, kind, kind, address, address)
    total = await tx.fetch_value(f"SELECT COUNT(*) FROM mails WHERE {where}", params)  # noqa: S608 (constant text)
    rows = await tx.fetch_all(
        f"SELECT {_LIST_COLUMNS} FROM mails WHERE {where} ORDER BY id DESC LIMIT %s OFFSET %s",  # noqa: S608 (constant text)
        (*params, limit, offset),
    )
    return rows, int(total or 0)


async def by_id(tx: Session, mail_id: int, *, lock: bool = False) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return await tx.fetch_one(
        f"SELECT {_LIST_COLUMNS}, context FROM mails WHERE id = %s{suffix}",  # noqa: S608 (constant text)
        (mail_id,),
    )


async def attempts_of(tx: Session, mail_id: int) -> list[Row]:
    return await tx.fetch_all(
        "SELECT attempted_at, outcome, smtp_code, smtp_reply FROM mail_attempts WHERE mail_id = %s ORDER BY id",
        (mail_id,),
    )


async def retry(tx: Session, mail_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE mails SET status = 'pending', due_at = %s, last_error = NULL WHERE id = %s AND status = 'failed'",
        (now, mail_id),
    )


async def cancel(tx: Session, mail_id: int) -> None:
    await tx.execute(
        "UPDATE mails SET status = 'cancelled', context = CASE WHEN kind IN ("  # noqa: S608 (placeholders only)
        f"{_SECURITY_IN}) THEN NULL ELSE context END WHERE id = %s AND status = 'pending'",
        (*SECURITY_KINDS, mail_id),
    )


async def summary(tx: Session, now: datetime) -> dict[str, Any]:
    by_status = await tx.fetch_all("SELECT status, COUNT(*) AS n FROM mails GROUP BY status")
    counts = {s: 0 for s in STATUSES}
    counts.update({r["status"]: int(r["n"]) for r in by_status})
    due = await tx.fetch_value("SELECT COUNT(*) FROM mails WHERE status = 'pending' AND due_at <= %s", (now,))
    day = await tx.fetch_one(
        "SELECT COUNT(CASE WHEN status = 'sent' THEN 1 END) AS sent,"
        " COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed"
        " FROM mails WHERE updated_at >= %s - INTERVAL 1 DAY",
        (now,),
    )
    oldest = await tx.fetch_value("SELECT MIN(due_at) FROM mails WHERE status = 'pending' AND due_at <= %s", (now,))
    return {
        "by_status": counts,
        "due_now": int(due or 0),
        "last_24h": {"sent": int((day or {}).get("sent") or 0), "failed": int((day or {}).get("failed") or 0)},
        "oldest_due_at": oldest,
    }


# -- erasure -------------------------------------------------------------------------------


async def erase_user(tx: Session, user_id: int) -> None:
    """An erased account: its pending mail is cancelled; addresses, contexts and replies go."""
    await tx.execute(
        "UPDATE mails SET status = 'cancelled' WHERE user_id = %s AND status IN ('pending', 'sending')", (user_id,)
    )
    await tx.execute(
        "UPDATE mail_attempts a JOIN mails m ON m.id = a.mail_id SET a.smtp_reply = NULL WHERE m.user_id = %s",
        (user_id,),
    )
    await tx.execute(
        "UPDATE mails SET to_address = '', context = NULL, last_error = NULL, user_id = NULL,"
        " idempotency_key = CONCAT('erased:', id) WHERE user_id = %s",
        (user_id,),
    )
