"""Sessions: a login starts a refresh-token family; each refresh rotates the token within it.

A refresh token that is presented a second time means two parties hold it (one of them
stole it), so the whole family is revoked and both must sign in again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from fastapi.responses import JSONResponse

from tdc_shared.db import Database, Row, Session
from tdc_shared.envelope import Unauthorized, ok

from .clock import later, utcnow
from .context import AuthContext, Caller
from .keys import access_token_claims
from .models import user_out
from .queries import sessions, users
from .revocation import end_sessions

log = logging.getLogger(__name__)

REFRESH_COOKIE = "tdc_refresh"
COOKIE_PATH = "/api/v1/auth"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> tuple[str, str]:
    """An opaque single-use token and the hash we store in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def _access_token(ctx: AuthContext, user: Row, session_id: str) -> str:
    return ctx.keys.sign(
        access_token_claims(
            ctx.settings,
            user_id=int(user["id"]),
            role=user["role"],
            session_id=session_id,
            patreon_tier=user["patreon_tier"],
            patreon_cents=user["patreon_cents"],
            not_before=user["tokens_not_before"],
        )
    )


def _pair(ctx: AuthContext, user: Row, session_id: str, refresh_token: str, refresh_expires_in: int) -> dict[str, Any]:
    return {
        "access_token": _access_token(ctx, user, session_id),
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": ctx.settings.auth_access_token_ttl,
        # The session's absolute end: rotation hands out new tokens, never more time.
        "refresh_expires_in": refresh_expires_in,
        "user": user_out(user),
    }


async def start(tx: Session, ctx: AuthContext, user: Row, caller: Caller) -> dict[str, Any]:
    """A new session for `user` (after a password or OAuth login): the first token pair."""
    session_id = secrets.token_hex(16)
    await sessions.create(
        tx,
        session_id=session_id,
        user_id=int(user["id"]),
        expires_at=later(ctx.settings.auth_refresh_token_ttl),
        user_agent=caller.user_agent,
        ip=caller.ip,
    )
    refresh_token, digest = new_secret()
    await sessions.add_token(tx, session_id, digest)
    await users.touch_login(tx, int(user["id"]))
    return _pair(ctx, user, session_id, refresh_token, ctx.settings.auth_refresh_token_ttl)


async def rotate(tx: Session, ctx: AuthContext, presented: str, caller: Caller) -> dict[str, Any] | str:
    """The next token pair, or why not (as a message, so the caller commits any revocation first)."""
    row = await sessions.token_for_update(tx, token_hash(presented))
    if row is None:
        return "Invalid refresh token"
    if row["revoked_at"] is not None or row["expires_at"] <= utcnow():
        return "Session has ended; sign in again"
    if row["used_at"] is not None:
        await end_sessions(tx, ctx.verifier, "reuse", session_id=row["session_id"])
        log.warning("refresh token reuse; session revoked", extra={"user_id": row["user_id"]})
        return "Refresh token already used; this sign-in has been ended everywhere"
    user = await users.by_id(tx, int(row["user_id"]))
    if user is None or not user["is_active"]:
        await end_sessions(tx, ctx.verifier, "inactive", session_id=row["session_id"])
        return "Account is not active"
    await sessions.mark_used(tx, row["token_hash"])
    refresh_token, digest = new_secret()
    await sessions.add_token(tx, row["session_id"], digest)
    await sessions.touch(tx, row["session_id"], caller.ip, caller.user_agent)
    remaining = max(1, int((row["expires_at"] - utcnow()).total_seconds()))
    return _pair(ctx, user, row["session_id"], refresh_token, remaining)


async def rotate_committed(db: Database, ctx: AuthContext, presented: str, caller: Caller) -> dict[str, Any]:
    async with db.transaction() as tx:
        result = await rotate(tx, ctx, presented, caller)
    if isinstance(result, str):
        raise Unauthorized(result)
    return result


def token_response(ctx: AuthContext, pair: dict[str, Any], status: int = 200) -> JSONResponse:
    response = ok(pair, status=status, headers={"Cache-Control": "no-store"})
    set_refresh_cookie(response, pair["refresh_token"], pair["refresh_expires_in"])
    return response


def set_refresh_cookie(response: Any, refresh_token: str, max_age: int) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Any) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")
