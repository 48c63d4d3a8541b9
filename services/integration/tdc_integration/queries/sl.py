"""SQL for the Second Life side: objects, nonces, check-ins, visitor counts, link codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from ..timefmt import iso_utc

OBJECT_COLUMNS = (
    "SELECT id, name, purpose, location_slug, owner_key, object_key, secret_ciphertext, previous_secret_ciphertext,"
    " previous_valid_until, revoked_at, created_at, last_seen_at FROM sl_objects"
)


def public_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "purpose": row["purpose"],
        "location": row["location_slug"],
        "owner_key": row["owner_key"],
        "object_key": row["object_key"],
        "revoked": row["revoked_at"] is not None,
        "revoked_at": iso_utc(row["revoked_at"]),
        "previous_secret_valid_until": iso_utc(row["previous_valid_until"]),
        "created_at": iso_utc(row["created_at"]),
        "last_seen_at": iso_utc(row["last_seen_at"]),
    }


async def create_object(tx: Session, values: dict[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO sl_objects (id, name, purpose, location_slug, owner_key, secret_ciphertext, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            values["id"],
            values["name"],
            values["purpose"],
            values["location"],
            values["owner_key"],
            values["secret_ciphertext"],
            values["created_by"],
        ),
    )


async def find_object(tx: Session, object_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    if lock:
        return await tx.fetch_one(OBJECT_COLUMNS + " WHERE id = %s FOR UPDATE", (object_id,))
    return await tx.fetch_one(OBJECT_COLUMNS + " WHERE id = %s", (object_id,))


async def list_objects(tx: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    rows = await tx.fetch_all(OBJECT_COLUMNS + " ORDER BY created_at DESC, id LIMIT %s OFFSET %s", (limit, offset))
    total = await tx.fetch_value("SELECT COUNT(*) FROM sl_objects")
    return [public_object(r) for r in rows], int(total or 0)


async def rotate_secret(tx: Session, object_id: str, ciphertext: str, grace_seconds: int) -> None:
    await tx.execute(
        "UPDATE sl_objects SET previous_secret_ciphertext = secret_ciphertext, secret_ciphertext = %s,"
        " previous_valid_until = UTC_TIMESTAMP(6) + INTERVAL %s SECOND WHERE id = %s",
        (ciphertext, grace_seconds, object_id),
    )


async def revoke(tx: Session, object_id: str) -> None:
    await tx.execute("UPDATE sl_objects SET revoked_at = UTC_TIMESTAMP(6) WHERE id = %s", (object_id,))


async def bind_object_key(tx: Session, object_id: str, object_key: str) -> bool:
    """Binds the key on first use; False when another key got there first."""
    changed = await tx.execute(
        "UPDATE sl_objects SET object_key = %s WHERE id = %s AND object_key IS NULL", (object_key, object_id)
    )
    return bool(changed)


async def seen(tx: Session, object_id: str) -> None:
    await tx.execute("UPDATE sl_objects SET last_seen_at = UTC_TIMESTAMP(6) WHERE id = %s", (object_id,))


# -- nonces and the rate limit -----------------------------------------------------------------


async def recent_requests(tx: Session, object_id: str, period_seconds: int) -> tuple[int, datetime | None]:
    """Accepted requests of the object within the period, and when the oldest of them came."""
    row = await tx.fetch_one(
        "SELECT COUNT(*) AS n, MIN(seen_at) AS oldest FROM sl_nonces"
        " WHERE object_id = %s AND seen_at > UTC_TIMESTAMP(6) - INTERVAL %s SECOND",
        (object_id, period_seconds),
    )
    assert row is not None
    return int(row["n"] or 0), row["oldest"]


async def remember_nonce(tx: Session, object_id: str, nonce: str) -> bool:
    """False when the object used this nonce before (within the window: older ones are forgotten)."""
    inserted = await tx.execute(
        "INSERT IGNORE INTO sl_nonces (object_id, nonce) VALUES (%s, %s)", (object_id, nonce.encode())
    )
    return bool(inserted)


async def forget_nonces(tx: Session, window_seconds: int) -> int:
    return await tx.execute(
        "DELETE FROM sl_nonces WHERE seen_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND LIMIT 5000", (window_seconds,)
    )


# -- check-ins and visitors -------------------------------------------------------------------


async def add_checkin(tx: Session, values: dict[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO sl_checkins (object_id, catalog_id, event_slug, location_slug, avatar_key, avatar_name,"
        " checked_in_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            values["object_id"],
            values["catalog_id"],
            values["event_slug"],
            values["location"],
            values["avatar_key"],
            values["avatar_name"],
            values["checked_in_at"],
        ),
    )


async def list_checkins(
    tx: Session, event_slug: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    rows = await tx.fetch_all(
        "SELECT id, object_id, catalog_id, event_slug, location_slug, avatar_key, avatar_name, checked_in_at"
        " FROM sl_checkins WHERE (%s IS NULL OR event_slug = %s)"
        " ORDER BY checked_in_at DESC, id DESC LIMIT %s OFFSET %s",
        (event_slug, event_slug, limit, offset),
    )
    total = await tx.fetch_value(
        "SELECT COUNT(*) FROM sl_checkins WHERE (%s IS NULL OR event_slug = %s)", (event_slug, event_slug)
    )
    items = [
        {
            "id": r["id"],
            "object_id": r["object_id"],
            "event_id": r["catalog_id"],
            "event_slug": r["event_slug"],
            "location": r["location_slug"],
            "avatar_key": r["avatar_key"],
            "avatar_name": r["avatar_name"],
            "checked_in_at": iso_utc(r["checked_in_at"]),
        }
        for r in rows
    ]
    return items, int(total or 0)


async def add_visitors(tx: Session, object_id: str, location: str, visitors: int) -> None:
    await tx.execute(
        "INSERT INTO sl_visitors (object_id, location_slug, visitors) VALUES (%s, %s, %s)",
        (object_id, location, visitors),
    )


async def forget_visitors(tx: Session, days: int) -> int:
    return await tx.execute(
        "DELETE FROM sl_visitors WHERE reported_at < UTC_TIMESTAMP(6) - INTERVAL %s DAY LIMIT 5000", (days,)
    )


async def attendance(
    tx: Session, location: str | None, now: datetime, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Per event that has started: the counters' reports during it (peak, mean, how many)."""
    rows = await tx.fetch_all(
        "SELECT e.catalog_id, e.slug, e.location_slug, e.start_utc, e.end_utc, MAX(v.visitors) AS peak,"
        " AVG(v.visitors) AS mean, COUNT(v.id) AS reports FROM catalog_events e"
        " LEFT JOIN sl_visitors v ON v.location_slug = e.location_slug AND v.reported_at >= e.start_utc"
        " AND v.reported_at < e.end_utc"
        " WHERE e.status IN ('published', 'cancelled') AND e.start_utc <= %s AND (%s IS NULL OR e.location_slug = %s)"
        " GROUP BY e.catalog_id, e.slug, e.location_slug, e.start_utc, e.end_utc"
        " ORDER BY e.start_utc DESC, e.catalog_id DESC LIMIT %s OFFSET %s",
        (now, location, location, limit, offset),
    )
    total = await tx.fetch_value(
        "SELECT COUNT(*) FROM catalog_events WHERE status IN ('published', 'cancelled') AND start_utc <= %s"
        " AND (%s IS NULL OR location_slug = %s)",
        (now, location, location),
    )
    items = [
        {
            "event_id": r["catalog_id"],
            "event_slug": r["slug"],
            "location": r["location_slug"],
            "start_utc": iso_utc(r["start_utc"]),
            "end_utc": iso_utc(r["end_utc"]),
            "peak": int(r["peak"]) if r["peak"] is not None else None,
            "average": round(float(r["mean"]), 1) if r["mean"] is not None else None,
            "reports": int(r["reports"]),
        }
        for r in rows
    ]
    return items, int(total or 0)


# -- link codes -------------------------------------------------------------------------------


async def store_code(tx: Session, user_id: int, code_hash: str, expires_at: datetime) -> None:
    """A new code replaces the user's unused ones (only the latest a user asked for works)."""
    await tx.execute("DELETE FROM sl_link_codes WHERE user_id = %s AND used_at IS NULL", (user_id,))
    await tx.execute(
        "INSERT IGNORE INTO sl_link_codes (code_hash, user_id, expires_at) VALUES (%s, %s, %s)",
        (code_hash, user_id, expires_at),
    )


async def find_code(tx: Session, code_hash: str) -> dict[str, Any] | None:
    return await tx.fetch_one(
        "SELECT code_hash, user_id, expires_at, used_at FROM sl_link_codes WHERE code_hash = %s FOR UPDATE",
        (code_hash,),
    )


async def use_code(tx: Session, code_hash: str, avatar_key: str) -> None:
    await tx.execute(
        "UPDATE sl_link_codes SET used_at = UTC_TIMESTAMP(6), avatar_key = %s WHERE code_hash = %s",
        (avatar_key, code_hash),
    )


async def forget_user(tx: Session, user_id: int) -> None:
    await tx.execute("DELETE FROM sl_link_codes WHERE user_id = %s", (user_id,))


async def forget_expired_codes(tx: Session) -> int:
    return await tx.execute("DELETE FROM sl_link_codes WHERE expires_at < UTC_TIMESTAMP(6) - INTERVAL 1 DAY LIMIT 5000")
