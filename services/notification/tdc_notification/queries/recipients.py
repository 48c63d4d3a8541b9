"""The read model of recipients, from auth's events."""

from __future__ import annotations

from typing import Any

from tdc_shared.db import Row, Session


async def registered(tx: Session, data: dict[str, Any]) -> None:
    """A new account: remember it, with the welcome due once its address is verified."""
    await tx.execute(
        "INSERT INTO recipients (user_id, email, username, language, welcome_due) VALUES (%s, %s, %s, %s, 1)"
        " ON DUPLICATE KEY UPDATE welcome_due = 1",
        (int(data["user_id"]), data["email"], data.get("username"), _language(data)),
    )


async def updated(tx: Session, data: dict[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO recipients (user_id, email, username, language, email_verified, is_active)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE email = VALUES(email),"
        " username = VALUES(username), language = VALUES(language), email_verified = VALUES(email_verified),"
        " is_active = VALUES(is_active)",
        (
            int(data["user_id"]),
            data["email"],
            data.get("username"),
            _language(data),
            bool(data.get("email_verified")),
            bool(data.get("is_active", True)),
        ),
    )


async def get(tx: Session, user_id: int, *, lock: bool = False) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return await tx.fetch_one(
        "SELECT r.user_id, r.email, r.username, COALESCE(p.language, r.language) AS language, r.email_verified,"  # noqa: S608 (constant text)
        " r.is_active, r.welcome_due, COALESCE(p.account_mail, 1) AS account_mail FROM recipients r"
        f" LEFT JOIN preferences p ON p.user_id = r.user_id WHERE r.user_id = %s{suffix}",
        (user_id,),
    )


async def welcome_sent(tx: Session, user_id: int) -> None:
    await tx.execute("UPDATE recipients SET welcome_due = 0 WHERE user_id = %s", (user_id,))


async def readdress_pending(tx: Session, user_id: int, email: str) -> None:
    """A changed address: mail not yet sent goes to the new one (security mails keep theirs)."""
    await tx.execute(
        "UPDATE mails SET to_address = %s WHERE user_id = %s AND status = 'pending'"
        " AND kind NOT IN ('verify_email', 'password_reset', 'registration_attempt', 'role_changed')",
        (email, user_id),
    )


async def cancel_optional(tx: Session, user_id: int) -> None:
    """An address no longer verified, or a deactivated account: nothing but security mail."""
    await tx.execute(
        "UPDATE mails SET status = 'cancelled' WHERE user_id = %s AND status = 'pending'"
        " AND kind NOT IN ('verify_email', 'password_reset', 'registration_attempt', 'role_changed')",
        (user_id,),
    )


async def delete(tx: Session, user_id: int) -> None:
    for table in ("favourite_locations", "favourite_artists", "preferences", "recipients"):
        # The table name is one of four constants above.
        await tx.execute(f"DELETE FROM {table} WHERE user_id = %s", (user_id,))  # noqa: S608 (constant names)


def _language(data: dict[str, Any]) -> str:
    language = str(data.get("language") or "en").lower()[:2]
    return language if language in ("en", "it", "fr", "es") else "en"
