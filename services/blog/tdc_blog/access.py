"""Who may read a post's body: decided from the verified access token alone.

The token carries the role and, for Patreon supporters, `patreon_tier` and `patreon_cents`
(both None for everyone else). Nothing here calls another service, so a reader's standing is
exactly what auth last signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tdc_shared.auth import Claims

Visibility = Literal["public", "members", "patrons", "tier"]
VISIBILITIES: tuple[str, ...] = ("public", "members", "patrons", "tier")


@dataclass(frozen=True)
class Standing:
    signed_in: bool
    staff: bool
    patron: bool
    cents: int

    @classmethod
    def of(cls, claims: Claims | None) -> Standing:
        if claims is None:
            return cls(signed_in=False, staff=False, patron=False, cents=0)
        patron = claims.patreon_tier is not None or claims.patreon_cents is not None
        return cls(
            signed_in=True,
            staff=claims.has_role("staff"),
            patron=patron,
            cents=claims.patreon_cents or 0,
        )

    def may_read(self, visibility: str, required_cents: int | None) -> bool:
        if visibility == "public" or self.staff:
            return True
        if visibility == "members":
            return self.signed_in
        if visibility == "patrons":
            return self.patron
        if visibility == "tier":
            return self.patron and self.cents >= (required_cents or 0)
        return False  # an unknown visibility is closed, never open


ANONYMOUS = Standing.of(None)


def unlock_hint(
    standing: Standing, visibility: str, required_cents: int | None, tier: dict[str, Any] | None
) -> dict[str, Any]:
    """What would open a locked post: `requires` is the post's rule, `next_step` the caller's
    next move (sign in first, then become a patron, or raise the pledge)."""
    if not standing.signed_in:
        next_step = "sign_in"
    elif visibility == "tier" and standing.patron:
        next_step = "upgrade_tier"
    else:
        next_step = "become_patron"
    return {
        "requires": {"members": "sign_in", "patrons": "patron", "tier": "tier"}.get(visibility, visibility),
        "next_step": next_step,
        "min_cents": required_cents if visibility == "tier" else None,
        "tier": tier if visibility == "tier" else None,
    }
