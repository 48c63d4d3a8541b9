"""SQL of the Patreon tier read model (kept from membership.tier.updated)."""

from __future__ import annotations

import json
from typing import Any

from tdc_shared.db import Session


async def remember_tier(tx: Session, tier_id: str, amount_cents: int, names: dict[str, str]) -> None:
    await tx.execute(
        "INSERT INTO patreon_tiers (id, amount_cents, translations) VALUES (%s, %s, %s) "
        "ON DUPLICATE KEY UPDATE amount_cents = VALUES(amount_cents), translations = VALUES(translations)",
        (tier_id, amount_cents, json.dumps(names, ensure_ascii=False, sort_keys=True)),
    )


async def all_tiers(tx: Session) -> list[dict[str, Any]]:
    return await tx.fetch_all("SELECT id, amount_cents, translations FROM patreon_tiers ORDER BY amount_cents, id")
