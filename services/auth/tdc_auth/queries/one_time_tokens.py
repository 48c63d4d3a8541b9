"""SQL for `one_time_tokens` (email verification, password reset)."""

from __future__ import annotations

from datetime import datetime

from tdc_shared.db import Row, Session

from ..clock import utcnow

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose name)


async def insert(tx: Session, *, user_id: int, purpose: str, token_hash: str, expires_at: datetime) -> None:
    await tx.execute(
        "INSERT INTO one_time_tokens (user_id, purpose, token_hash, expires_at) VALUES (%s, %s, %s, %s)",
        (user_id, purpose, token_hash, expires_at),
    )


async def usable_for_update(tx: Session, purpose: str, token_hash: str) -> Row | None:
    return await tx.fetch_one(
        "SELECT id, user_id FROM one_time_tokens "
        "WHERE token_hash = %s AND purpose = %s AND used_at IS NULL AND expires_at > %s FOR UPDATE",
        (token_hash, purpose, utcnow()),
    )


async def use_all(tx: Session, user_id: int, purpose: str) -> None:
    """Spend every open token of this purpose: the one presented, and any older links still in a mailbox."""
    await tx.execute(
        "UPDATE one_time_tokens SET used_at = %s WHERE user_id = %s AND purpose = %s AND used_at IS NULL",
        (utcnow(), user_id, purpose),
    )
