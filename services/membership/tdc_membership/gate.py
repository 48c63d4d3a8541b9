"""The exclusive-content gate, on the verified token's claims alone.

A caller whose token carries neither `patreon_tier` nor `patreon_cents` is not a supporter.
An item that names a tier needs at least that tier's amount in cents (the comparison the seed
makes, so a pricier tier opens everything a cheaper one does); an item naming no tier opens to
any supporter.
"""

from __future__ import annotations

from typing import Any

from tdc_shared.auth import Claims

SUPPORTER_REQUIRED = "Patreon supporter status required"
HIGHER_TIER_REQUIRED = "Higher Patreon tier required"


def caller_cents(claims: Claims) -> int | None:
    if claims.patreon_tier is None and claims.patreon_cents is None:
        return None
    return claims.patreon_cents or 0


def refusal(claims: Claims, item: dict[str, Any]) -> str | None:
    """Why `claims` may not open `item`, or None when it may."""
    cents = caller_cents(claims)
    if cents is None:
        return SUPPORTER_REQUIRED
    required = item.get("required_cents")
    if item.get("required_tier_id") is not None and required is not None and cents < int(required):
        return HIGHER_TIER_REQUIRED
    return None
