"""SQL for `oauth_accounts`."""

from __future__ import annotations

from tdc_shared.db import Row, Session


async def by_subject(tx: Session, provider: str, subject: str) -> Row | None:
    return await tx.fetch_one(
        "SELECT id, user_id, provider, provider_user_id, email FROM oauth_accounts "
        "WHERE provider = %s AND provider_user_id = %s",
        (provider, subject),
    )


async def link(tx: Session, *, user_id: int, provider: str, subject: str, email: str | None) -> None:
    await tx.execute(
        "INSERT INTO oauth_accounts (user_id, provider, provider_user_id, email) VALUES (%s, %s, %s, %s)",
        (user_id, provider, subject, email),
    )


async def for_user(tx: Session, user_id: int) -> list[Row]:
    return await tx.fetch_all(
        "SELECT provider, provider_user_id, email, created_at FROM oauth_accounts WHERE user_id = %s ORDER BY provider",
        (user_id,),
    )


async def unlink(tx: Session, user_id: int, provider: str) -> int:
    return await tx.execute("DELETE FROM oauth_accounts WHERE user_id = %s AND provider = %s", (user_id, provider))
