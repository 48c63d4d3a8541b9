"""SQL for the admin dashboard's membership section: counts on one snapshot."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Session


async def summary(tx: Session) -> dict[str, Any]:
    totals = await tx.fetch_one(
        "SELECT COUNT(*) AS known, COALESCE(SUM(is_active), 0) AS active,"
        " COALESCE(SUM(user_id IS NOT NULL), 0) AS linked,"
        " COALESCE(SUM(is_active = 1 AND user_id IS NOT NULL), 0) AS active_linked,"
        " COALESCE(SUM(CASE WHEN is_active = 1 THEN amount_cents ELSE 0 END), 0) AS active_cents,"
        " COALESCE(SUM(wall_opt_in = 1 AND is_active = 1 AND user_id IS NOT NULL), 0) AS on_wall"
        " FROM supporters"
    )
    by_tier = await tx.fetch_all(
        "SELECT t.id, t.patreon_title AS title, t.amount_cents, COUNT(s.id) AS active FROM tiers t"
        " LEFT JOIN supporters s ON s.tier_id = t.id AND s.is_active = 1"
        " GROUP BY t.id, t.patreon_title, t.amount_cents ORDER BY t.amount_cents, t.id"
    )
    t = totals or {}
    return {
        "supporters": {
            "active": int(t.get("active") or 0),
            "linked": int(t.get("linked") or 0),
            "active_linked": int(t.get("active_linked") or 0),
            "known": int(t.get("known") or 0),
            "on_wall": int(t.get("on_wall") or 0),
            "monthly_cents": int(t.get("active_cents") or 0),
        },
        "tiers": [
            {"id": r["id"], "title": r["title"], "amount_cents": r["amount_cents"], "active": int(r["active"])}
            for r in by_tier
        ],
    }
