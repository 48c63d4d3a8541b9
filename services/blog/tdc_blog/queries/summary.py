"""SQL for the admin dashboard's blog section."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from .common import iso_utc

_COUNTS = (
    "SELECT COUNT(CASE WHEN status = %s THEN 1 END) AS drafts, "
    "COUNT(CASE WHEN status = %s THEN 1 END) AS scheduled, "
    "COUNT(CASE WHEN status = %s AND published_at >= %s THEN 1 END) AS published_this_month, "
    "COUNT(CASE WHEN status = %s THEN 1 END) AS published, "
    "MIN(CASE WHEN status = %s THEN publish_at END) AS next_scheduled_at "
    "FROM posts"
)


async def summary(tx: Session, now: datetime) -> dict[str, Any]:
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    row = await tx.fetch_one(_COUNTS, ("draft", "scheduled", "published", month_start, "published", "scheduled"))
    assert row is not None  # an aggregate without GROUP BY always has its row
    return {
        "drafts": int(row["drafts"]),
        "scheduled": int(row["scheduled"]),
        "published_this_month": int(row["published_this_month"]),
        "published": int(row["published"]),
        "next_scheduled_at": iso_utc(row["next_scheduled_at"]),
    }
