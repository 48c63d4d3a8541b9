"""SQL for supporters: member state from Patreon, links to our accounts, wall preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tdc_shared.db import Session
from tdc_shared.pagination import PageRequest

from ..jsonapi import MemberState
from .common import iso_utc, like_pattern, utc_now

_COLUMNS = (
    "s.id, s.patreon_user_id, s.patreon_member_id, s.user_id, s.email, s.full_name, s.tier_id, s.amount_cents,"
    " s.entitled_cents, s.patron_status, s.is_active, s.lifetime_support_cents, s.patron_since,"
    " s.last_charge_date, s.last_charge_status, s.state_read_at, s.last_seen_run_id, s.linked_at,"
    " s.wall_opt_in, s.wall_name, s.wall_show_tier, s.created_at, s.updated_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM supporters s"  # noqa: S608, RUF100 (constants only)


@dataclass(frozen=True)
class Standing:
    """What gates and tokens care about: active or not, which tier, its amount."""

    active: bool
    tier_id: str | None
    amount_cents: int

    @classmethod
    def of(cls, row: dict[str, Any] | None) -> Standing:
        if row is None:
            return cls(False, None, 0)
        return cls(bool(row["is_active"]), row["tier_id"], int(row["amount_cents"]))


async def lock_by_patreon_user(tx: Session, patreon_user_id: str) -> dict[str, Any] | None:
    return await tx.fetch_one(_SELECT + " WHERE s.patreon_user_id = %s FOR UPDATE", (patreon_user_id,))


async def lock_by_member(tx: Session, member_id: str) -> dict[str, Any] | None:
    return await tx.fetch_one(_SELECT + " WHERE s.patreon_member_id = %s FOR UPDATE", (member_id,))


async def lock_by_user(tx: Session, user_id: int) -> dict[str, Any] | None:
    return await tx.fetch_one(_SELECT + " WHERE s.user_id = %s FOR UPDATE", (user_id,))


async def find_by_user(tx: Session, user_id: int) -> dict[str, Any] | None:
    return await tx.fetch_one(_SELECT + " WHERE s.user_id = %s", (user_id,))


async def forget_member_id(tx: Session, member_id: str, keep_row_id: int | None) -> None:
    """A member id moves with its Patreon user; free it from any other row (unique key)."""
    await tx.execute(
        "UPDATE supporters SET patreon_member_id = NULL WHERE patreon_member_id = %s AND id <> %s",
        (member_id, keep_row_id or 0),
    )


async def insert_bare(tx: Session, patreon_user_id: str) -> None:
    # IGNORE: another transaction inserting the same user at the same moment wins, and the
    # caller's SELECT ... FOR UPDATE that follows waits for it and finds its row.
    await tx.execute("INSERT IGNORE INTO supporters (patreon_user_id) VALUES (%s)", (patreon_user_id,))


async def write_state(
    tx: Session,
    row_id: int,
    member: MemberState,
    standing: Standing,
    read_at: datetime,
    run_id: int | None,
) -> None:
    await tx.execute(
        "UPDATE supporters SET patreon_member_id = COALESCE(%s, patreon_member_id),"
        " email = COALESCE(%s, email), full_name = COALESCE(%s, full_name), tier_id = %s, amount_cents = %s,"
        " entitled_cents = %s, patron_status = %s, is_active = %s, lifetime_support_cents = %s, patron_since = %s,"
        " last_charge_date = %s, last_charge_status = %s, state_read_at = %s,"
        " last_seen_run_id = COALESCE(%s, last_seen_run_id) WHERE id = %s",
        (
            member.member_id,
            member.email,
            member.full_name,
            standing.tier_id,
            standing.amount_cents,
            member.entitled_cents,
            member.patron_status,
            standing.active,
            member.lifetime_support_cents,
            member.patron_since,
            member.last_charge_date,
            member.last_charge_status,
            read_at,
            run_id,
            row_id,
        ),
    )


async def mark_seen(tx: Session, row_id: int, run_id: int) -> None:
    await tx.execute("UPDATE supporters SET last_seen_run_id = %s WHERE id = %s", (run_id, row_id))


async def mark_gone(tx: Session, row_id: int, read_at: datetime) -> None:
    """Patreon no longer lists the member: not a patron any more."""
    await tx.execute(
        "UPDATE supporters SET is_active = 0, patron_status = NULL, tier_id = NULL, amount_cents = 0,"
        " entitled_cents = 0, state_read_at = %s WHERE id = %s",
        (read_at, row_id),
    )


async def lock_unseen_active(tx: Session, run_id: int, started_at: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Active supporters a completed run did not see, whose state is older than the run."""
    return await tx.fetch_all(
        _SELECT + " WHERE s.is_active = 1 AND (s.last_seen_run_id IS NULL OR s.last_seen_run_id <> %s)"
        " AND (s.state_read_at IS NULL OR s.state_read_at < %s) ORDER BY s.id LIMIT %s FOR UPDATE",
        (run_id, started_at, limit),
    )


async def link(tx: Session, row_id: int, user_id: int) -> None:
    await tx.execute("UPDATE supporters SET user_id = %s, linked_at = %s WHERE id = %s", (user_id, utc_now(), row_id))


async def unlink(tx: Session, row_id: int) -> None:
    """Drop the link and what the account chose (the wall); Patreon's member state stays."""
    await tx.execute(
        "UPDATE supporters SET user_id = NULL, linked_at = NULL, wall_opt_in = 0, wall_name = NULL,"
        " wall_show_tier = 0 WHERE id = %s",
        (row_id,),
    )


async def erase_personal(tx: Session, row_id: int) -> None:
    """The account was deleted: unlink and also drop the names and address we copied."""
    await unlink(tx, row_id)
    await tx.execute("UPDATE supporters SET email = NULL, full_name = NULL WHERE id = %s", (row_id,))


async def set_wall(tx: Session, row_id: int, opt_in: bool, name: str | None, show_tier: bool) -> None:
    await tx.execute(
        "UPDATE supporters SET wall_opt_in = %s, wall_name = %s, wall_show_tier = %s WHERE id = %s",
        (opt_in, name, show_tier, row_id),
    )


async def count_active(tx: Session) -> int:
    return int(await tx.fetch_value("SELECT COUNT(*) FROM supporters WHERE is_active = 1") or 0)


_WALL = (
    " FROM supporters s LEFT JOIN tiers t ON t.id = s.tier_id"
    " LEFT JOIN tier_translations tt ON tt.tier_id = t.id AND tt.language = %s"
    " LEFT JOIN tier_translations te ON te.tier_id = t.id AND te.language = 'en'"
    " WHERE s.is_active = 1 AND s.user_id IS NOT NULL AND s.wall_opt_in = 1"
)


async def wall(tx: Session, language: str, page: PageRequest) -> tuple[list[dict[str, Any]], int]:
    total = int(await tx.fetch_value("SELECT COUNT(*)" + _WALL, (language,)) or 0)
    rows = await tx.fetch_all(
        "SELECT COALESCE(NULLIF(s.wall_name, ''), s.full_name) AS display_name, s.wall_show_tier,"
        " COALESCE(NULLIF(tt.title, ''), NULLIF(te.title, ''), t.patreon_title) AS tier_title"
        + _WALL
        + " ORDER BY s.patron_since IS NULL, s.patron_since, s.id LIMIT %s OFFSET %s",
        (language, page.limit, page.offset),
    )
    items = []
    for row in rows:
        item: dict[str, Any] = {"display_name": row["display_name"] or "Anonymous supporter"}
        if row["wall_show_tier"] and row["tier_title"]:
            item["tier"] = row["tier_title"]
        items.append(item)
    return items, total


@dataclass(frozen=True)
class SupporterFilters:
    q: str | None = None
    tier_id: str | None = None
    status: str | None = None  # active | inactive | linked | unlinked


def _where(filters: SupporterFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.q:
        clauses.append("(s.email LIKE %s OR s.full_name LIKE %s OR s.patreon_user_id = %s OR s.wall_name LIKE %s)")
        pattern = like_pattern(filters.q)
        params += [pattern, pattern, filters.q, pattern]
    if filters.tier_id:
        clauses.append("s.tier_id = %s")
        params.append(filters.tier_id)
    status_clause = {
        "active": "s.is_active = 1",
        "inactive": "s.is_active = 0",
        "linked": "s.user_id IS NOT NULL",
        "unlinked": "s.user_id IS NULL",
    }.get(filters.status or "")
    if status_clause:
        clauses.append(status_clause)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def search(tx: Session, filters: SupporterFilters, page: PageRequest) -> tuple[list[dict[str, Any]], int]:
    where, params = _where(filters)  # clauses are constants above; values are parameters
    count_sql = "SELECT COUNT(*) FROM supporters s" + where  # noqa: S608, RUF100 (constant clauses)
    total = int(await tx.fetch_value(count_sql, params) or 0)
    rows = await tx.fetch_all(
        _SELECT + where + " ORDER BY s.is_active DESC, s.amount_cents DESC, s.id LIMIT %s OFFSET %s",
        [*params, page.limit, page.offset],
    )
    return [admin_shape(r) for r in rows], total


def admin_shape(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "patreon_user_id": row["patreon_user_id"],
        "patreon_member_id": row["patreon_member_id"],
        "user_id": row["user_id"],
        "email": row["email"],
        "full_name": row["full_name"],
        "tier_id": row["tier_id"],
        "amount_cents": row["amount_cents"],
        "entitled_cents": row["entitled_cents"],
        "patron_status": row["patron_status"],
        "is_active": bool(row["is_active"]),
        "lifetime_support_cents": row["lifetime_support_cents"],
        "patron_since": iso_utc(row["patron_since"]),
        "last_charge_date": iso_utc(row["last_charge_date"]),
        "last_charge_status": row["last_charge_status"],
        "state_read_at": iso_utc(row["state_read_at"]),
        "linked_at": iso_utc(row["linked_at"]),
        "wall": {
            "opt_in": bool(row["wall_opt_in"]),
            "name": row["wall_name"],
            "show_tier": bool(row["wall_show_tier"]),
        },
    }
