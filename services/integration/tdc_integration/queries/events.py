"""SQL for the read model of the catalog's announced events (kept from catalog.event.*)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from ..timefmt import parse_utc

SELECT_EVENT = (
    "SELECT catalog_id, uid, slug, status, sequence, start_utc, end_utc, location_slug, snapshot FROM catalog_events"
)


async def apply(tx: Session, snapshot: dict[str, Any], status: str) -> bool:
    """Store the event's state unless the row already holds a newer (or the same) revision.

    True when the row changed, so the targets must be brought up to date."""
    catalog_id = int(snapshot["id"])
    sequence = int(snapshot.get("sequence") or 0)
    current = await tx.fetch_one(
        "SELECT sequence, status, snapshot FROM catalog_events WHERE catalog_id = %s FOR UPDATE", (catalog_id,)
    )
    if current is not None and current["sequence"] >= sequence:
        return False
    if status == "deleted" and current is not None:
        # The deletion carries only ids: keep the last snapshot (titles for the log, the board).
        kept = json.loads(current["snapshot"])
        kept.update({k: v for k, v in snapshot.items() if k in ("uid", "slug", "sequence")})
        snapshot = kept
    snapshot = {**snapshot, "status": status}
    location = snapshot.get("location") or {}
    values = (
        str(snapshot.get("uid") or ""),
        str(snapshot.get("slug") or ""),
        status,
        sequence,
        parse_utc(snapshot.get("start_utc")),
        parse_utc(snapshot.get("end_utc")),
        location.get("slug") if isinstance(location, dict) else None,
        json.dumps(snapshot, separators=(",", ":")),
    )
    if current is None:
        await tx.execute(
            "INSERT INTO catalog_events"
            " (catalog_id, uid, slug, status, sequence, start_utc, end_utc, location_slug, snapshot)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (catalog_id, *values),
        )
    else:
        await tx.execute(
            "UPDATE catalog_events SET uid = %s, slug = %s, status = %s, sequence = %s, start_utc = %s, end_utc = %s,"
            " location_slug = %s, snapshot = %s WHERE catalog_id = %s",
            (*values, catalog_id),
        )
    return True


def _decoded(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    row = dict(row)
    row["snapshot"] = json.loads(row["snapshot"])
    return row


async def find(tx: Session, catalog_id: int) -> dict[str, Any] | None:
    row = await tx.fetch_one(SELECT_EVENT + " WHERE catalog_id = %s", (catalog_id,))
    return _decoded(row)


async def find_by_slug(tx: Session, slug: str) -> dict[str, Any] | None:
    row = await tx.fetch_one(SELECT_EVENT + " WHERE slug = %s", (slug,))
    return _decoded(row)


async def upcoming_ids(tx: Session, now: datetime) -> list[int]:
    """Events not yet over (published or cancelled): what a full resync pushes again."""
    rows = await tx.fetch_all(
        "SELECT catalog_id FROM catalog_events WHERE status IN ('published', 'cancelled') AND end_utc > %s"
        " ORDER BY start_utc",
        (now,),
    )
    return [int(r["catalog_id"]) for r in rows]


async def at_location(tx: Session, location: str, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Published or cancelled events at a location that have not ended, soonest first, each with
    `live`: whether a DJ or host checked in for it (one query for the board)."""
    rows = await tx.fetch_all(
        "SELECT e.catalog_id, e.uid, e.slug, e.status, e.sequence, e.start_utc, e.end_utc, e.location_slug,"
        " e.snapshot, EXISTS (SELECT 1 FROM sl_checkins c WHERE c.catalog_id = e.catalog_id) AS live"
        " FROM catalog_events e WHERE e.location_slug = %s AND e.status IN ('published', 'cancelled')"
        " AND e.end_utc > %s ORDER BY e.start_utc, e.catalog_id LIMIT %s",
        (location, now, limit),
    )
    return [r for r in (_decoded(row) for row in rows) if r is not None]
