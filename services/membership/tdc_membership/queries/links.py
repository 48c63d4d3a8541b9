"""SQL for link states: single use, bound to the account that asked, expiring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tdc_shared.db import Session

from .common import utc_now


async def create(tx: Session, state_hash: str, user_id: int, code_verifier: str, expires_at: datetime) -> None:
    await tx.execute(
        "INSERT INTO link_states (state_hash, user_id, code_verifier, expires_at) VALUES (%s, %s, %s, %s)",
        (state_hash, user_id, code_verifier, expires_at),
    )


async def take(tx: Session, state_hash: str) -> dict[str, Any] | None:
    """The state row, locked; the caller marks it used in the same transaction."""
    return await tx.fetch_one(
        "SELECT state_hash, user_id, code_verifier, expires_at, used_at FROM link_states"
        " WHERE state_hash = %s FOR UPDATE",
        (state_hash,),
    )


async def mark_used(tx: Session, state_hash: str) -> None:
    await tx.execute("UPDATE link_states SET used_at = %s WHERE state_hash = %s", (utc_now(), state_hash))


async def forget_user(tx: Session, user_id: int) -> None:
    await tx.execute("DELETE FROM link_states WHERE user_id = %s", (user_id,))


async def forget_old(tx: Session) -> int:
    return await tx.execute("DELETE FROM link_states WHERE expires_at < UTC_TIMESTAMP(6) - INTERVAL 1 DAY LIMIT 5000")
