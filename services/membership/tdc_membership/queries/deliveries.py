"""SQL for the webhook deliveries log (trigger, time, verified, outcome; never body or secret)."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session
from tdc_shared.pagination import PageRequest

from .common import iso_utc


async def record(
    tx: Session,
    *,
    trigger: str | None,
    verified: bool,
    outcome: str,
    body_sha256: str | None = None,
    member_id: str | None = None,
    detail: str | None = None,
) -> int:
    return await tx.execute(
        "INSERT INTO webhook_deliveries (event_trigger, verified, body_sha256, patreon_member_id, outcome, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        ((trigger or "")[:64] or None, verified, body_sha256, member_id, outcome, (detail or "")[:255] or None),
    )


async def already_applied(tx: Session, body_sha256: str, trigger: str) -> bool:
    """The same delivery (same trigger, same bytes) was applied before: Patreon retried it."""
    return bool(
        await tx.fetch_value(
            "SELECT 1 FROM webhook_deliveries WHERE body_sha256 = %s AND event_trigger = %s AND outcome = 'applied'"
            " LIMIT 1",
            (body_sha256, trigger[:64]),
        )
    )


async def page_of(
    tx: Session, page: PageRequest, outcome: str | None, verified: bool | None
) -> tuple[list[dict[str, Any]], int]:
    clauses: list[str] = []
    params: list[Any] = []
    if outcome:
        clauses.append("outcome = %s")
        params.append(outcome)
    if verified is not None:
        clauses.append("verified = %s")
        params.append(verified)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""  # constant clauses, values as parameters
    count_sql = "SELECT COUNT(*) FROM webhook_deliveries" + where  # noqa: S608, RUF100 (constant clauses)
    total = int(await tx.fetch_value(count_sql, params) or 0)
    rows = await tx.fetch_all(
        "SELECT id, received_at, event_trigger, verified, patreon_member_id, outcome, detail"  # noqa: S608, RUF100 (constant clauses)
        " FROM webhook_deliveries" + where + " ORDER BY id DESC LIMIT %s OFFSET %s",
        [*params, page.limit, page.offset],
    )
    return [
        {
            "id": r["id"],
            "received_at": iso_utc(r["received_at"]),
            "trigger": r["event_trigger"],
            "verified": bool(r["verified"]),
            "patreon_member_id": r["patreon_member_id"],
            "outcome": r["outcome"],
            "detail": r["detail"],
        }
        for r in rows
    ], total


async def counts_since(tx: Session, days: int) -> dict[str, int]:
    rows = await tx.fetch_all(
        "SELECT outcome, COUNT(*) AS n FROM webhook_deliveries"
        " WHERE received_at >= UTC_TIMESTAMP(6) - INTERVAL %s DAY GROUP BY outcome",
        (days,),
    )
    return {r["outcome"]: int(r["n"]) for r in rows}


async def forget_old(tx: Session, days: float) -> int:
    return await tx.execute(
        "DELETE FROM webhook_deliveries WHERE received_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND LIMIT 5000",
        (int(days * 86400),),
    )
