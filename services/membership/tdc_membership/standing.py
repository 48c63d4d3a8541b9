"""Applying what Patreon says about a member to our table, and telling the bus when a
supporter's standing changes.

The rule that keeps supporters true whatever order news arrives in: every state we store was
read from Patreon's API at a known moment (`state_read_at`), and a state read earlier than the
one held never replaces it. Webhooks only tell us *which* member to read (see webhooks.py);
reconciliation reads every member. Replaying either is harmless: the same state applied twice
changes nothing and publishes nothing.

Standing = (active, tier, amount in cents). Active means `patron_status == active_patron`. The
tier is the highest-priced of the member's currently entitled tiers, and the amount is that
tier's price (what gates compare); an active patron entitled to no tier is counted at the
amount they pay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tdc_shared.db import Session
from tdc_shared.events import publish

from .jsonapi import MemberState, TierInfo
from .queries import supporters as supporter_queries
from .queries import tiers as tier_queries
from .queries.supporters import Standing

log = logging.getLogger(__name__)

ACTIVATED = "membership.supporter.activated"
TIER_CHANGED = "membership.supporter.tier_changed"
DEACTIVATED = "membership.supporter.deactivated"


@dataclass(frozen=True)
class Applied:
    outcome: str  # applied | unchanged | stale | skipped
    event: str | None = None


async def announce_tier(tx: Session, tier_id: str) -> None:
    await publish(tx, "membership.tier.updated", await tier_queries.bus_payload(tx, tier_id), source="membership")


async def record_tiers(tx: Session, tiers: tuple[TierInfo, ...] | list[TierInfo]) -> int:
    """Upsert Patreon's tiers; `membership.tier.updated` for each new or changed one."""
    changed = 0
    # In id order, so two transactions writing the same tiers take their locks in one order.
    for tier in sorted(tiers, key=lambda t: t.id):
        if await tier_queries.upsert_from_patreon(tx, tier):
            await announce_tier(tx, tier.id)
            changed += 1
    return changed


async def _standing_of(tx: Session, member: MemberState) -> Standing:
    if not member.is_active:
        return Standing(False, None, 0)
    prices = await tier_queries.amounts(tx, member.tier_ids)
    for tier_id in member.tier_ids:
        if tier_id not in prices and await tier_queries.ensure_placeholder(tx, tier_id, member.entitled_cents):
            prices[tier_id] = member.entitled_cents
            await announce_tier(tx, tier_id)
    if not prices:
        return Standing(True, None, member.entitled_cents)
    # Highest price first; among equal prices the lowest id, so the choice does not depend on order.
    tier_id = min(prices, key=lambda t: (-prices[t], t))
    return Standing(True, tier_id, prices[tier_id])


def event_data(row: dict[str, Any], standing: Standing, patron_status: str | None) -> dict[str, Any]:
    return {
        "user_id": row["user_id"],
        "patreon_user_id": row["patreon_user_id"],
        "tier_id": standing.tier_id,
        "amount_cents": standing.amount_cents,
        "patron_status": patron_status,
    }


def change_of(before: Standing, after: Standing) -> str | None:
    if after.active and not before.active:
        return ACTIVATED
    if before.active and not after.active:
        return DEACTIVATED
    if after.active and (before.tier_id, before.amount_cents) != (after.tier_id, after.amount_cents):
        return TIER_CHANGED
    return None


async def announce(tx: Session, event: str, row: dict[str, Any], standing: Standing, status: str | None) -> None:
    await publish(tx, event, event_data(row, standing, status), source="membership")


async def apply_member(tx: Session, member: MemberState, read_at: datetime, *, run_id: int | None = None) -> Applied:
    """Store `member` as read from Patreon at `read_at`, unless we hold a newer state."""
    if member.patreon_user_id is None and member.member_id is None:
        return Applied("skipped")
    await record_tiers(tx, member.tiers)
    row = None
    if member.patreon_user_id is not None:
        row = await supporter_queries.lock_by_patreon_user(tx, member.patreon_user_id)
    if row is None and member.member_id is not None:
        row = await supporter_queries.lock_by_member(tx, member.member_id)
    if row is None:
        if member.patreon_user_id is None:
            return Applied("skipped")  # a member we never saw, without its user: nothing to key it by
        await supporter_queries.insert_bare(tx, member.patreon_user_id)
        row = await supporter_queries.lock_by_patreon_user(tx, member.patreon_user_id)
        if row is None:
            return Applied("skipped")
    if row["state_read_at"] is not None and row["state_read_at"] >= read_at:
        if run_id is not None:
            await supporter_queries.mark_seen(tx, row["id"], run_id)
        return Applied("stale")
    if member.member_id is not None:
        await supporter_queries.forget_member_id(tx, member.member_id, row["id"])
    before = Standing.of(row)
    after = await _standing_of(tx, member)
    await supporter_queries.write_state(tx, row["id"], member, after, read_at, run_id)
    event = change_of(before, after)
    if event is not None:
        shown = before if event == DEACTIVATED else after
        await announce(tx, event, row, shown, member.patron_status)
        return Applied("applied", event)
    return Applied("unchanged")


async def apply_gone(tx: Session, row: dict[str, Any], read_at: datetime) -> bool:
    """Patreon no longer lists this member; True when that ended an active standing."""
    before = Standing.of(row)
    await supporter_queries.mark_gone(tx, row["id"], read_at)
    if before.active:
        await announce(tx, DEACTIVATED, row, before, None)
        return True
    return False


async def apply_member_deleted(tx: Session, member_id: str, read_at: datetime) -> Applied:
    """GET /members/{id} answered 404: the membership is gone."""
    row = await supporter_queries.lock_by_member(tx, member_id)
    if row is None:
        return Applied("unchanged")
    if row["state_read_at"] is not None and row["state_read_at"] >= read_at:
        return Applied("stale")
    return Applied("applied", DEACTIVATED) if await apply_gone(tx, row, read_at) else Applied("unchanged")
