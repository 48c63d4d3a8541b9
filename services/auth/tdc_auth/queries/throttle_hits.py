"""SQL for `throttle_hits`: one row per counted hit, by bucket and the keyed hash of the email or IP."""

from __future__ import annotations

from datetime import datetime

from tdc_shared.db import Session

# For housekeeping's sliced deletes: hits older than the longest window count for nothing.
PURGE = "DELETE FROM throttle_hits WHERE hit_at < %s LIMIT %s"


async def add(tx: Session, bucket: str, subject: str, hit_at: datetime) -> int:
    """Record one hit; returns its id."""
    return await tx.execute(
        "INSERT INTO throttle_hits (bucket, subject, hit_at) VALUES (%s, %s, %s)", (bucket, subject, hit_at)
    )


async def count(tx: Session, bucket: str, subject: str, since: datetime) -> tuple[int, datetime | None]:
    """Hits after `since`, and the oldest one's time."""
    row = await tx.fetch_one(
        "SELECT COUNT(*) AS hits, MIN(hit_at) AS oldest FROM throttle_hits "
        "WHERE bucket = %s AND subject = %s AND hit_at > %s",
        (bucket, subject, since),
    )
    assert row is not None  # an aggregate without GROUP BY always yields one row
    return int(row["hits"]), row["oldest"]


async def clear(tx: Session, bucket: str, subject: str) -> None:
    await tx.execute("DELETE FROM throttle_hits WHERE bucket = %s AND subject = %s", (bucket, subject))


async def remove(tx: Session, hit_id: int) -> None:
    await tx.execute("DELETE FROM throttle_hits WHERE id = %s", (hit_id,))
