"""SQL for reconciliation runs and the lease that lets one replica at a time run one."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Database, Session

from .common import iso_utc, utc_in, utc_now

LEASE = "reconcile"


async def claim(db: Database, holder: str, seconds: float) -> bool:
    """Take the lease if nobody holds an unexpired one (or we already do)."""
    changed = await db.execute(
        "UPDATE sync_lease SET holder = %s, expires_at = %s"
        " WHERE name = %s AND (holder IS NULL OR expires_at IS NULL OR expires_at < %s OR holder = %s)",
        (holder, utc_in(seconds), LEASE, utc_now(), holder),
    )
    if changed:
        return True
    # MySQL counts rows changed, not matched: renewing within the same microsecond changes none.
    return bool(await db.fetch_value("SELECT 1 FROM sync_lease WHERE name = %s AND holder = %s", (LEASE, holder)))


async def renew(tx: Session, holder: str, seconds: float) -> bool:
    """Extend our lease; False when it is no longer ours (it expired and someone took over)."""
    row = await tx.fetch_one("SELECT holder FROM sync_lease WHERE name = %s FOR UPDATE", (LEASE,))
    if row is None or row["holder"] != holder:
        return False
    await tx.execute("UPDATE sync_lease SET expires_at = %s WHERE name = %s", (utc_in(seconds), LEASE))
    return True


async def release(db: Database, holder: str) -> None:
    await db.execute(
        "UPDATE sync_lease SET holder = NULL, expires_at = NULL WHERE name = %s AND holder = %s", (LEASE, holder)
    )


async def lease(tx: Session) -> dict[str, Any] | None:
    return await tx.fetch_one("SELECT holder, expires_at FROM sync_lease WHERE name = %s", (LEASE,))


async def unfinished(tx: Session) -> dict[str, Any] | None:
    """A run left `running` by a replica that stopped (whoever holds the lease now may resume it)."""
    return await tx.fetch_one(
        "SELECT id, started_at, next_cursor, pages FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1"
    )


async def start(tx: Session, trigger: str) -> int:
    return await tx.execute("INSERT INTO sync_runs (run_trigger, status) VALUES (%s, 'running')", (trigger,))


async def started_at(tx: Session, run_id: int) -> Any:
    return await tx.fetch_value("SELECT started_at FROM sync_runs WHERE id = %s", (run_id,))


async def note_resumed(tx: Session, run_id: int) -> None:
    await tx.execute("UPDATE sync_runs SET resumed = resumed + 1 WHERE id = %s", (run_id,))


async def save_page(tx: Session, run_id: int, next_cursor: str | None, seen: int, changed: int) -> None:
    await tx.execute(
        "UPDATE sync_runs SET next_cursor = %s, pages = pages + 1, members_seen = members_seen + %s,"
        " changed = changed + %s WHERE id = %s",
        (next_cursor, seen, changed, run_id),
    )


async def restart_pages(tx: Session, run_id: int) -> None:
    await tx.execute("UPDATE sync_runs SET next_cursor = NULL WHERE id = %s", (run_id,))


async def finish(
    tx: Session, run_id: int, status: str, *, deactivated: int = 0, throttled: int = 0, error: str | None = None
) -> None:
    await tx.execute(
        "UPDATE sync_runs SET status = %s, finished_at = %s, deactivated = deactivated + %s,"
        " throttled = throttled + %s, error = %s WHERE id = %s",
        (status, utc_now(), deactivated, throttled, (error or "")[:500] or None, run_id),
    )


async def add_changes(tx: Session, run_id: int, changed: int) -> None:
    await tx.execute("UPDATE sync_runs SET changed = changed + %s WHERE id = %s", (changed, run_id))


async def last_finished_start(tx: Session) -> Any:
    """When the latest run that ended (well or not) began: the schedule counts from there."""
    return await tx.fetch_value("SELECT MAX(started_at) FROM sync_runs")


def run_shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "trigger": row["run_trigger"],
        "status": row["status"],
        "started_at": iso_utc(row["started_at"]),
        "finished_at": iso_utc(row["finished_at"]),
        "pages": row["pages"],
        "members_seen": row["members_seen"],
        "changed": row["changed"],
        "deactivated": row["deactivated"],
        "resumed": row["resumed"],
        "throttled": row["throttled"],
        "error": row["error"],
    }


async def recent(tx: Session, limit: int = 10) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(
        "SELECT id, run_trigger, status, started_at, finished_at, pages, members_seen, changed, deactivated,"
        " resumed, throttled, error FROM sync_runs ORDER BY id DESC LIMIT %s",
        (limit,),
    )
    return [run_shape(r) for r in rows]


async def find(tx: Session, run_id: int) -> dict[str, Any] | None:
    rows = await tx.fetch_all(
        "SELECT id, run_trigger, status, started_at, finished_at, pages, members_seen, changed, deactivated,"
        " resumed, throttled, error FROM sync_runs WHERE id = %s",
        (run_id,),
    )
    return run_shape(rows[0]) if rows else None
