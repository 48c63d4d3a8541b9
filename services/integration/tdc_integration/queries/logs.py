"""SQL for integration_logs: every external call, already redacted by the caller."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session

from ..timefmt import iso_utc


async def write(tx: Session, entry: dict[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO integration_logs (integration, action, target, catalog_id, status, http_status, request,"
        " response, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            entry["integration"],
            entry["action"],
            entry.get("target"),
            entry.get("catalog_id"),
            entry["status"],
            entry.get("http_status"),
            entry.get("request"),
            entry.get("response"),
            (entry.get("error") or None) and str(entry["error"])[:1000],
        ),
    )


async def listing(tx: Session, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    where = (
        " WHERE (%s IS NULL OR integration = %s) AND (%s IS NULL OR status = %s) AND (%s IS NULL OR action = %s)"
        " AND (%s IS NULL OR catalog_id = %s)"
    )
    params: list[Any] = []
    for name in ("integration", "status", "action", "event_id"):
        params += [filters.get(name), filters.get(name)]
    rows = await tx.fetch_all(
        "SELECT id, integration, action, target, catalog_id, status, http_status, request, response, error,"  # noqa: S608, RUF100 (a constant WHERE; values are placeholders)
        " created_at FROM integration_logs" + where + " ORDER BY id DESC LIMIT %s OFFSET %s",
        (*params, limit, offset),
    )
    total = await tx.fetch_value("SELECT COUNT(*) FROM integration_logs" + where, params)  # noqa: S608, RUF100 (as above)
    items = [
        {
            "id": r["id"],
            "integration": r["integration"],
            "action": r["action"],
            "target": r["target"],
            "event_id": r["catalog_id"],
            "status": r["status"],
            "http_status": r["http_status"],
            "request": r["request"],
            "response": r["response"],
            "error": r["error"],
            "created_at": iso_utc(r["created_at"]),
        }
        for r in rows
    ]
    return items, int(total or 0)


async def forget_older_than(tx: Session, days: int) -> int:
    return await tx.execute(
        "DELETE FROM integration_logs WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL %s DAY LIMIT 5000", (days,)
    )
