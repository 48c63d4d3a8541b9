"""Sign-in, token refresh, sign-out, and the public keys that verify our access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import OptionalUser
from tdc_shared.deps import Db
from tdc_shared.envelope import Forbidden, Unauthorized, no_content, ok

from .. import sessions
from ..context import Auth, Client
from ..models import LoginBody, RefreshBody
from ..queries import sessions as session_rows
from ..queries import users
from ..revocation import end_sessions
from ..throttle import account_key

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

INVALID_CREDENTIALS = "Invalid email or password"
RefreshCookie = Annotated[str | None, Cookie(alias=sessions.REFRESH_COOKIE)]


@router.post("/login", summary="Sign in with email and password")
async def login(body: LoginBody, ctx: Auth, db: Db, caller: Client) -> JSONResponse:
    # Looked up first, so that every spelling of an address counts against the one account.
    async with db.transaction() as tx:
        user = await users.by_email(tx, body.email)
    attempt = await ctx.throttle.begin_login(account_key(user, body.email), caller.ip)
    password_hash = user["password_hash"] if user is not None else None
    # Unknown accounts are checked against a dummy hash, so both failures cost the same time.
    if not await ctx.passwords.verify(password_hash, body.password) or user is None:
        raise Unauthorized(INVALID_CREDENTIALS)  # the attempt stays counted as a failure
    if not user["is_active"]:
        raise Forbidden("This account has been disabled")
    await attempt.succeeded()
    async with db.transaction() as tx:
        if ctx.passwords.needs_rehash(password_hash):
            await users.update(tx, int(user["id"]), {"password_hash": await ctx.passwords.hash(body.password)})
        pair = await sessions.start(tx, ctx, user, caller)
    return sessions.token_response(ctx, pair)


@router.post("/refresh", summary="Exchange a refresh token (body or cookie) for a new token pair")
async def refresh(
    ctx: Auth, db: Db, caller: Client, cookie: RefreshCookie = None, body: RefreshBody | None = None
) -> JSONResponse:
    presented = (body.refresh_token if body else None) or cookie
    if not presented:
        raise Unauthorized("Refresh token required")
    pair = await sessions.rotate_committed(db, ctx, presented, caller)
    return sessions.token_response(ctx, pair)


@router.post("/logout", status_code=204, summary="End this sign-in (the refresh token's family)")
async def logout(
    db: Db, ctx: Auth, claims: OptionalUser, cookie: RefreshCookie = None, body: RefreshBody | None = None
) -> Response:
    """The session ends, and with it every access token it issued (everywhere, within moments)."""
    presented = (body.refresh_token if body else None) or cookie
    session_id = claims.raw.get("sid") if claims is not None else None
    if not presented and not session_id:
        raise Unauthorized("Send the refresh token or an access token to sign out")
    async with db.transaction() as tx:
        if presented:
            row = await session_rows.token_for_update(tx, sessions.token_hash(presented))
            if row is not None:
                await end_sessions(tx, ctx.verifier, "logout", session_id=row["session_id"])
        if session_id and claims is not None:
            await end_sessions(tx, ctx.verifier, "logout", session_id=str(session_id), user_id=claims.user_id)
    response = no_content()
    sessions.clear_refresh_cookie(response)
    return response


@router.get("/jwks.json", summary="Public keys that verify access tokens (JWKS)")
async def jwks(request: Request, ctx: Auth) -> JSONResponse:
    return ok(ctx.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})
