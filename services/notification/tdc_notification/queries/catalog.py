"""What the service knows of the catalog: location and artist slugs, and upcoming events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tdc_shared.db import Row, Session

# Two tables with the same shape; the name is chosen from this map, never from input.
TABLES = {"location": "known_locations", "artist": "known_artists"}


async def remember(tx: Session, entity: str, item: dict[str, Any]) -> None:
    if item.get("id") is None or not item.get("slug"):
        return
    table = TABLES[entity]
    # A slug given up by a deleted or renamed row may be reused by another: free it first.
    await tx.execute(f"DELETE FROM {table} WHERE slug = %s AND id <> %s", (item["slug"], int(item["id"])))  # noqa: S608 (table from TABLES)
    await tx.execute(
        f"INSERT INTO {table} (id, slug, name, is_active) VALUES (%s, %s, %s, %s)"  # noqa: S608 (table from TABLES)
        " ON DUPLICATE KEY UPDATE slug = VALUES(slug), name = VALUES(name), is_active = VALUES(is_active)",
        (int(item["id"]), item["slug"], item.get("name"), bool(item.get("is_active", True))),
    )


async def forget(tx: Session, entity: str, item_id: int) -> None:
    table = TABLES[entity]
    favourites = "favourite_locations" if entity == "location" else "favourite_artists"
    column = "location_id" if entity == "location" else "artist_id"
    await tx.execute(f"DELETE FROM {table} WHERE id = %s", (item_id,))  # noqa: S608 (table from TABLES)
    await tx.execute(f"DELETE FROM {favourites} WHERE {column} = %s", (item_id,))  # noqa: S608 (constant names)


async def ids_for_slugs(tx: Session, entity: str, slugs: list[str]) -> dict[str, int]:
    if not slugs:
        return {}
    table = TABLES[entity]
    marks = ", ".join(["%s"] * len(slugs))
    rows = await tx.fetch_all(f"SELECT id, slug FROM {table} WHERE slug IN ({marks})", tuple(slugs))  # noqa: S608 (table from TABLES, placeholders)
    return {r["slug"]: int(r["id"]) for r in rows}


async def remember_event(
    tx: Session, event_id: int, start: datetime, location_id: int | None, artist_ids: list[int], context: dict[str, Any]
) -> None:
    listed = "," + "".join(f"{i}," for i in artist_ids)
    await tx.execute(
        "INSERT INTO known_events (id, start_utc, location_id, artist_ids, context) VALUES (%s, %s, %s, %s, %s)"
        " ON DUPLICATE KEY UPDATE start_utc = VALUES(start_utc), location_id = VALUES(location_id),"
        " artist_ids = VALUES(artist_ids), context = VALUES(context)",
        (event_id, start, location_id, listed[:2000], json.dumps(context)),
    )


async def forget_event(tx: Session, event_id: int) -> None:
    await tx.execute("DELETE FROM known_events WHERE id = %s", (event_id,))


async def upcoming_events(tx: Session, now: datetime) -> list[Row]:
    return await tx.fetch_all(
        "SELECT id, start_utc, location_id, artist_ids, context FROM known_events WHERE start_utc > %s"
        " ORDER BY start_utc",
        (now,),
    )
