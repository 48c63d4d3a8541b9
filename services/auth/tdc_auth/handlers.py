"""Events auth consumes (through the inbox, one transaction with the effect): Patreon standing,
and Second Life avatars linked in-world (bottom).

Membership announces a supporter's standing; auth keeps it on the user (`patreon_tier`, the tier
id as text, and `patreon_cents`, its amount) and every access token issued afterwards carries
both claims (both absent for a non-supporter). Tokens already issued keep what they said until
they expire: a deactivation takes effect at the next refresh at the latest, so the window is the
access-token lifetime (TDC_AUTH_ACCESS_TOKEN_TTL, 15 minutes by default).

Events without our user id (a Patreon member not linked to an account) change nothing; an event
older than the last one applied (by `occurred_at`) is ignored, so a late redelivery cannot undo
a newer change.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from tdc_shared.db import Session
from tdc_shared.events import Event, HandlerRegistry

from .queries import users

log = logging.getLogger(__name__)

handlers = HandlerRegistry()

ACTIVE = ("membership.supporter.activated", "membership.supporter.tier_changed")
DEACTIVATED = "membership.supporter.deactivated"


def _user_id(data: dict[str, Any]) -> int | None:
    value = data.get("user_id")
    if value is None or isinstance(value, bool):
        return None
    try:
        user_id = int(value)
    except (TypeError, ValueError):
        return None
    return user_id if user_id > 0 else None


def _standing(data: dict[str, Any]) -> tuple[str, int] | None:
    tier, cents = data.get("tier_id"), data.get("amount_cents")
    if tier is None or isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
        return None
    text = str(tier)
    return (text, cents) if 0 < len(text) <= 64 else None


async def _apply(tx: Session, event: Event, tier: str | None, cents: int | None) -> None:
    user_id = _user_id(event.data)
    if user_id is None:
        return  # not linked to one of our accounts
    stamp = event.occurred_at
    occurred = (stamp.astimezone(UTC) if stamp.tzinfo else stamp).replace(tzinfo=None)  # stored as naive UTC
    # One statement: only a newer event than the one applied last changes the row.
    await tx.execute(
        "UPDATE users SET patreon_tier = %s, patreon_cents = %s, patreon_changed_at = %s "
        "WHERE id = %s AND (patreon_changed_at IS NULL OR patreon_changed_at <= %s)",
        (tier, cents, occurred, user_id, occurred),
    )


async def supporter_active(tx: Session, event: Event) -> None:
    standing = _standing(event.data)
    if standing is None:
        log.error("supporter event without a usable tier or amount ignored", extra={"event_id": str(event.id)})
        return
    await _apply(tx, event, *standing)


async def supporter_deactivated(tx: Session, event: Event) -> None:
    await _apply(tx, event, None, None)


for _type in ACTIVE:
    handlers.on(_type)(supporter_active)
handlers.on(DEACTIVATED)(supporter_deactivated)


AVATAR_LINKED = "integration.sl.avatar_linked"


@handlers.on(AVATAR_LINKED)
async def avatar_linked(tx: Session, event: Event) -> None:
    """Integration saw the avatar say the user's code in-world: store the link (latest wins)."""
    data = event.data
    user_id = _user_id(data)
    key, name, linked_at = data.get("avatar_key"), data.get("avatar_name"), data.get("linked_at")
    try:
        avatar_key = str(uuid.UUID(str(key)))
        when = datetime.fromisoformat(str(linked_at).replace("Z", "+00:00"))
    except (ValueError, TypeError):
        log.error("avatar link without a usable key or time ignored", extra={"event_id": str(event.id)})
        return
    if user_id is None or not isinstance(name, str) or not 0 < len(name) <= 64:
        log.error("avatar link without a user or name ignored", extra={"event_id": str(event.id)})
        return
    when = (when.astimezone(UTC) if when.tzinfo else when).replace(tzinfo=None)
    await users.link_sl_avatar(tx, user_id, avatar_key, name, when)
