"""One-time tokens mailed to the user: email verification and password reset."""

from __future__ import annotations

from tdc_shared.db import Row, Session
from tdc_shared.events import publish

from .clock import iso, later
from .context import AuthContext
from .queries import one_time_tokens
from .sessions import new_secret


async def send_token(tx: Session, ctx: AuthContext, user: Row, purpose: str) -> None:
    """Store a fresh token's hash and put the token itself in the event the notification service mails."""
    ttl = (
        ctx.settings.auth_email_verification_ttl
        if purpose == one_time_tokens.VERIFY_EMAIL
        else ctx.settings.auth_password_reset_ttl
    )
    token, digest = new_secret()
    expires_at = later(ttl)
    await one_time_tokens.insert(tx, user_id=int(user["id"]), purpose=purpose, token_hash=digest, expires_at=expires_at)
    data = {
        "user_id": int(user["id"]),
        "email": user["email"],
        "username": user["username"],
        "language": user["language"],
        "token": token,
        "expires_at": iso(expires_at),
    }
    # Literal event types, so the catalog check that scans every publish() call sees them.
    if purpose == one_time_tokens.VERIFY_EMAIL:
        await publish(tx, "auth.email_verification.requested", data, source="auth")
    else:
        await publish(tx, "auth.password_reset.requested", data, source="auth")
