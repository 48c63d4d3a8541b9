"""SQL for `sessions` (refresh-token families) and `refresh_tokens`."""

from __future__ import annotations

from datetime import datetime

from tdc_shared.db import Row, Session

from ..clock import utcnow


async def create(
    tx: Session, *, session_id: str, user_id: int, expires_at: datetime, user_agent: str | None, ip: str | None
) -> None:
    await tx.execute(
        "INSERT INTO sessions (id, user_id, expires_at, user_agent, ip_address) VALUES (%s, %s, %s, %s, %s)",
        (session_id, user_id, expires_at, (user_agent or "")[:255] or None, ip),
    )


async def add_token(tx: Session, session_id: str, token_hash: str) -> None:
    await tx.execute("INSERT INTO refresh_tokens (token_hash, session_id) VALUES (%s, %s)", (token_hash, session_id))


async def token_for_update(tx: Session, token_hash: str) -> Row | None:
    """The token with its session, locked: two concurrent presentations are serialised here."""
    return await tx.fetch_one(
        "SELECT t.token_hash, t.used_at, s.id AS session_id, s.user_id, s.expires_at, s.revoked_at "
        "FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id "
        "WHERE t.token_hash = %s FOR UPDATE",
        (token_hash,),
    )


async def mark_used(tx: Session, token_hash: str) -> None:
    await tx.execute("UPDATE refresh_tokens SET used_at = %s WHERE token_hash = %s", (utcnow(), token_hash))


async def touch(tx: Session, session_id: str, ip: str | None, user_agent: str | None) -> None:
    await tx.execute(
        "UPDATE sessions SET last_used_at = %s, ip_address = %s, user_agent = COALESCE(%s, user_agent) WHERE id = %s",
        (utcnow(), ip, (user_agent or "")[:255] or None, session_id),
    )


async def revoke(tx: Session, session_id: str, reason: str, *, user_id: int | None = None) -> int:
    """Revoke one session (of `user_id` when given); returns how many rows changed."""
    sql = "UPDATE sessions SET revoked_at = %s, revoked_reason = %s WHERE id = %s AND revoked_at IS NULL"
    params: list[object] = [utcnow(), reason, session_id]
    if user_id is not None:
        sql += " AND user_id = %s"
        params.append(user_id)
    return await tx.execute(sql, params)


async def revoke_all(tx: Session, user_id: int, reason: str, *, keep: str | None = None) -> int:
    sql = "UPDATE sessions SET revoked_at = %s, revoked_reason = %s WHERE user_id = %s AND revoked_at IS NULL"
    params: list[object] = [utcnow(), reason, user_id]
    if keep is not None:
        sql += " AND id <> %s"
        params.append(keep)
    return await tx.execute(sql, params)


async def active_for_user(tx: Session, user_id: int) -> list[Row]:
    return await tx.fetch_all(
        "SELECT id, created_at, last_used_at, expires_at, user_agent, ip_address FROM sessions "
        "WHERE user_id = %s AND revoked_at IS NULL AND expires_at > %s ORDER BY last_used_at DESC",
        (user_id, utcnow()),
    )


async def count_active(tx: Session) -> int:
    """Sign-ins that can still refresh: not revoked and before their absolute end (`expires_at`, fixed at login)."""
    count = await tx.fetch_value(
        "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > %s", (utcnow(),)
    )
    return int(count or 0)


async def owned(tx: Session, session_id: str, user_id: int) -> Row | None:
    return await tx.fetch_one(
        "SELECT id, revoked_at, expires_at FROM sessions WHERE id = %s AND user_id = %s", (session_id, user_id)
    )


async def open_sessions(
    tx: Session, *, user_id: int | None = None, session_id: str | None = None, keep: str | None = None
) -> list[Row]:
    """Sessions not yet revoked, chosen by user (all but `keep`) and/or by id, locked for revoking."""
    clauses = ["revoked_at IS NULL"]
    params: list[object] = []
    if user_id is not None:
        clauses.append("user_id = %s")
        params.append(user_id)
    if session_id is not None:
        clauses.append("id = %s")
        params.append(session_id)
    if keep is not None:
        clauses.append("id <> %s")
        params.append(keep)
    if user_id is None and session_id is None:
        raise ValueError("choose sessions by user or by id")
    where = " AND ".join(clauses)  # assembled from the constant clauses above only
    return await tx.fetch_all(f"SELECT id, user_id FROM sessions WHERE {where} FOR UPDATE", params)  # noqa: S608
