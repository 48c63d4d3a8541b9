"""SQL for pushes: one row per (integration, target, catalog event), claimed by the workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from ..timefmt import iso_utc

STATUSES = ("pending", "done", "failed", "dropped")


@dataclass(frozen=True)
class Claim:
    id: int
    integration: str
    target: str
    catalog_id: int
    version: int
    attempts: int


async def request(tx: Session, integration: str, target: str, catalog_id: int) -> None:
    """The target must show the event's current state: a new row, or the row made pending again
    (a newer version, attempts from zero) whatever it was, dropped included."""
    await tx.execute(
        "INSERT INTO pushes (integration, target, catalog_id, status, version, attempts, next_attempt_at)"
        " VALUES (%s, %s, %s, 'pending', 1, 0, UTC_TIMESTAMP(6))"
        " ON DUPLICATE KEY UPDATE status = 'pending', version = version + 1, attempts = 0,"
        " next_attempt_at = UTC_TIMESTAMP(6), last_error = NULL",
        (integration, target, catalog_id),
    )


async def claim(tx: Session, integrations: list[str], limit: int, lease_seconds: int) -> list[Claim]:
    """Due pushes of the given integrations, locked against other replicas for the lease.

    SKIP LOCKED: rows another replica is claiming right now are passed over, not waited for."""
    if not integrations:
        return []
    marks = ", ".join(["%s"] * len(integrations))
    rows = await tx.fetch_all(
        "SELECT id, integration, target, catalog_id, version, attempts FROM pushes"  # noqa: S608, RUF100 (placeholders only)
        f" WHERE status IN ('pending', 'failed') AND integration IN ({marks})"
        " AND next_attempt_at <= UTC_TIMESTAMP(6) AND (lease_until IS NULL OR lease_until < UTC_TIMESTAMP(6))"
        " ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
        (*integrations, limit),
    )
    claims = [Claim(**row) for row in rows]
    for c in claims:
        await tx.execute(
            "UPDATE pushes SET lease_until = UTC_TIMESTAMP(6) + INTERVAL %s SECOND, attempts = attempts + 1"
            " WHERE id = %s",
            (lease_seconds, c.id),
        )
    return claims


async def finish(tx: Session, claim: Claim) -> None:
    """Done, unless a newer change arrived meanwhile: then it stays pending for another round."""
    await tx.execute(
        "UPDATE pushes SET status = IF(version = %s, 'done', 'pending'), lease_until = NULL,"
        " done_at = IF(version = %s, UTC_TIMESTAMP(6), done_at), last_error = NULL WHERE id = %s",
        (claim.version, claim.version, claim.id),
    )


async def park(tx: Session, claim: Claim, error: str, retry_at: datetime | None) -> None:
    """Failed for now: the sweep tries it again at `retry_at` (never when None: stopped)."""
    await tx.execute(
        "UPDATE pushes SET status = IF(version = %s, 'failed', 'pending'), lease_until = NULL, last_error = %s,"
        " next_attempt_at = IF(version = %s, %s, UTC_TIMESTAMP(6)) WHERE id = %s",
        (claim.version, error[:1000], claim.version, retry_at, claim.id),
    )


async def postpone(tx: Session, claim: Claim, error: str) -> None:
    """Still pending, due as soon as its integration may be called again (after a pause or a new
    token: the worker claims nothing of an integration until then); no attempt used up."""
    await tx.execute(
        "UPDATE pushes SET lease_until = NULL, last_error = %s, attempts = GREATEST(attempts - 1, 0) WHERE id = %s",
        (error[:1000], claim.id),
    )


async def counts(tx: Session) -> dict[str, dict[str, int]]:
    rows = await tx.fetch_all(
        "SELECT integration, status, COUNT(*) AS n FROM pushes WHERE status IN ('pending', 'failed')"
        " GROUP BY integration, status"
    )
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["integration"], {})[row["status"]] = int(row["n"])
    return out


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "integration": row["integration"],
        "target": row["target"],
        "event_id": row["catalog_id"],
        "event_slug": row.get("slug"),
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso_utc(row["next_attempt_at"]) if row["status"] in ("pending", "failed") else None,
        "last_error": row["last_error"],
        "updated_at": iso_utc(row["updated_at"]),
    }


async def listing(
    tx: Session, integration: str | None, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    rows = await tx.fetch_all(
        "SELECT p.id, p.integration, p.target, p.catalog_id, p.status, p.attempts, p.next_attempt_at,"
        " p.last_error, p.updated_at, e.slug FROM pushes p LEFT JOIN catalog_events e ON e.catalog_id = p.catalog_id"
        " WHERE (%s IS NULL OR p.integration = %s) AND (%s IS NULL OR p.status = %s)"
        " ORDER BY p.updated_at DESC, p.id DESC LIMIT %s OFFSET %s",
        (integration, integration, status, status, limit, offset),
    )
    total = await tx.fetch_value(
        "SELECT COUNT(*) FROM pushes WHERE (%s IS NULL OR integration = %s) AND (%s IS NULL OR status = %s)",
        (integration, integration, status, status),
    )
    return [_public(r) for r in rows], int(total or 0)


async def find(tx: Session, push_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return await tx.fetch_one(
        "SELECT p.id, p.integration, p.target, p.catalog_id, p.status, p.attempts, p.next_attempt_at,"  # noqa: S608, RUF100 (constant suffix)
        " p.last_error, p.updated_at, e.slug FROM pushes p LEFT JOIN catalog_events e ON e.catalog_id = p.catalog_id"
        f" WHERE p.id = %s{suffix}",
        (push_id,),
    )


public = _public


async def retry_now(tx: Session, push_id: int) -> None:
    await tx.execute(
        "UPDATE pushes SET status = 'pending', attempts = 0, next_attempt_at = UTC_TIMESTAMP(6), lease_until = NULL"
        " WHERE id = %s",
        (push_id,),
    )


async def drop(tx: Session, push_id: int) -> None:
    await tx.execute(
        "UPDATE pushes SET status = 'dropped', lease_until = NULL, next_attempt_at = NULL WHERE id = %s", (push_id,)
    )


async def wake(tx: Session, integration: str) -> None:
    """After a pause or a new token: every waiting push of the integration is due now."""
    await tx.execute(
        "UPDATE pushes SET next_attempt_at = UTC_TIMESTAMP(6) WHERE integration = %s AND status = 'pending'",
        (integration,),
    )


async def link(tx: Session, integration: str, target: str, catalog_id: int) -> dict[str, Any] | None:
    return await tx.fetch_one(
        "SELECT remote_id, pushed_sequence, fingerprint, removed FROM remote_links"
        " WHERE integration = %s AND target = %s AND catalog_id = %s",
        (integration, target, catalog_id),
    )


async def save_link(
    tx: Session,
    integration: str,
    target: str,
    catalog_id: int,
    *,
    remote_id: str | None,
    sequence: int,
    fingerprint: str | None,
    removed: bool,
) -> None:
    await tx.execute(
        "INSERT INTO remote_links (integration, target, catalog_id, remote_id, pushed_sequence, fingerprint, removed)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE remote_id = VALUES(remote_id),"
        " pushed_sequence = VALUES(pushed_sequence), fingerprint = VALUES(fingerprint), removed = VALUES(removed)",
        (integration, target, catalog_id, remote_id, sequence, fingerprint, int(removed)),
    )


async def request_all(tx: Session, catalog_id: int) -> int:
    """`request` for every configured target at once (one statement in the consumer's transaction)."""
    return await tx.execute(
        "INSERT INTO pushes (integration, target, catalog_id, status, version, attempts, next_attempt_at)"
        " SELECT integration, target, %s, 'pending', 1, 0, UTC_TIMESTAMP(6) FROM push_targets"
        " ON DUPLICATE KEY UPDATE status = 'pending', version = pushes.version + 1, attempts = 0,"
        " next_attempt_at = UTC_TIMESTAMP(6), last_error = NULL",
        (catalog_id,),
    )


async def configure_targets(tx: Session, targets: list[tuple[str, str]]) -> None:
    await tx.execute("DELETE FROM push_targets")
    await tx.execute_many("INSERT INTO push_targets (integration, target) VALUES (%s, %s)", targets)


async def targets(tx: Session) -> list[tuple[str, str]]:
    rows = await tx.fetch_all("SELECT integration, target FROM push_targets ORDER BY integration, target")
    return [(r["integration"], r["target"]) for r in rows]
