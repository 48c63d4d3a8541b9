"""One-time tokens mailed to the user: email verification and password reset."""

from __future__ import annotations

from tdc_shared.db import Row, Session
from tdc_shared.events import publish

from .clock import iso, later
from .context import AuthContext
from .queries import one_time_tokens
from .sessions import new_secret

EVENT_FOR = {
    one_time_tokens.VERIFY_EMAIL: "auth.email_verification.requested",
    one_time_tokens.RESET_PASSWORD: "auth.password_reset.requested",
}


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
    await publish(
        tx,
        EVENT_FOR[purpose],
        {
            "user_id": int(user["id"]),
            "email": user["email"],
            "username": user["username"],
            "language": user["language"],
            "token": token,
            "expires_at": iso(expires_at),
        },
        source="auth",
    )
