"""Registration, email verification, and password reset by email."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tdc_shared.auth import OptionalUser
from tdc_shared.deps import Db
from tdc_shared.envelope import BadRequest, Conflict, Unprocessable, ok
from tdc_shared.events import publish

from ..context import Auth, Client
from ..models import EmailBody, OptionalEmailBody, RegisterBody, ResetPasswordBody, TokenBody, user_event, user_out
from ..passwords import policy_problems
from ..queries import one_time_tokens, users
from ..revocation import end_sessions
from ..sessions import token_hash
from ..throttle import account_key
from ..verification import send_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

BAD_TOKEN = {"token": ["is invalid, already used or expired"]}
RESEND_ANSWER = {"message": "If the account exists and its email is not verified yet, a new link is on its way."}
FORGOT_ANSWER = {"message": "If an account exists for this address, a reset link is on its way."}


def check_password(password: str, field: str = "password") -> None:
    problems = policy_problems(password)
    if problems:
        raise Unprocessable(errors={field: problems})


REGISTER_ANSWER = {
    "message": "Check your mail: we sent a link to confirm the address, or how to sign in if it already has an account."
}


@router.post("/register", status_code=202, summary="Create an account (answers alike whether the email is known)")
async def register(body: RegisterBody, ctx: Auth, db: Db, caller: Client) -> JSONResponse:
    """202 "check your mail" for a new address and for a known one alike, so the answer does not tell
    who has an account: a new address gets its verification link, a known one's owner a mail
    (`auth.user.registration_attempted`) saying someone tried and how to sign in or reset. A taken
    username still says so (usernames are public)."""
    check_password(body.password)
    # Hashed in both cases, so a known address does not answer faster.
    password_hash = await ctx.passwords.hash(body.password)
    async with db.transaction() as tx:
        if await users.by_username(tx, body.username) is not None:
            raise Conflict("Username already in use", errors={"username": ["is already taken"]})
        existing = await users.by_email(tx, body.email)
        if existing is None:
            try:
                user_id = await users.insert(
                    tx, email=body.email, username=body.username, password_hash=password_hash, language=body.language
                )
            except users.DuplicateUser as exc:  # lost a race with a concurrent registration
                if exc.field != "email":
                    raise Conflict("Username already in use", errors={exc.field: ["is already taken"]}) from exc
                existing = await users.by_email(tx, body.email)
            else:
                user = await users.by_id(tx, user_id)
                assert user is not None
                await publish(
                    tx,
                    "auth.user.registered",
                    {"user_id": user_id, "email": body.email, "username": body.username, "language": body.language},
                    source="auth",
                )
                await send_token(tx, ctx, user, one_time_tokens.VERIFY_EMAIL)
        if existing is not None:
            await publish(
                tx,
                "auth.user.registration_attempted",
                {
                    "user_id": int(existing["id"]),
                    "email": existing["email"],
                    "username": existing["username"],
                    "language": existing["language"],
                },
                source="auth",
            )
    return ok(REGISTER_ANSWER, status=202)


@router.post("/verify-email", summary="Confirm an email address with the mailed token")
async def verify_email(body: TokenBody, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        token = await one_time_tokens.usable_for_update(tx, one_time_tokens.VERIFY_EMAIL, token_hash(body.token))
        if token is None:
            raise BadRequest("Invalid verification token", errors=BAD_TOKEN)
        user_id = int(token["user_id"])
        await one_time_tokens.use_all(tx, user_id, one_time_tokens.VERIFY_EMAIL)
        await users.update(tx, user_id, {"email_verified": True})
        user = await users.by_id(tx, user_id)
        assert user is not None
        await publish(tx, "auth.user.updated", user_event(user), source="auth")
    return ok(user_out(user))


@router.post("/resend-verification", status_code=202, summary="Mail a new verification link")
async def resend_verification(
    ctx: Auth, db: Db, claims: OptionalUser, body: OptionalEmailBody | None = None
) -> JSONResponse:
    """Signed in: for the caller's account. Otherwise for `email`, answering the same whether it exists or not."""
    email = body.email if body is not None else None
    if claims is None and email is None:
        raise Unprocessable(errors={"email": ["is required when not signed in"]})
    async with db.transaction() as tx:
        user = await users.by_id(tx, claims.user_id) if claims is not None else await users.by_email(tx, email or "")
    # Counted outside any transaction: the throttle takes a connection of its own, and holding one
    # here while waiting for another would let a burst of requests exhaust the pool.
    if user is not None or email is not None:
        await ctx.throttle.email_request("verify", account_key(user, email or ""))
    if user is not None:
        async with db.transaction() as tx:
            current = await users.by_id(tx, user["id"], lock=True)
            if current is not None and current["is_active"] and not current["email_verified"]:
                await send_token(tx, ctx, current, one_time_tokens.VERIFY_EMAIL)
    return ok(RESEND_ANSWER, status=202)


@router.post("/forgot-password", status_code=202, summary="Mail a password reset link")
async def forgot_password(body: EmailBody, ctx: Auth, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        user = await users.by_email(tx, body.email)
    # Outside any transaction (the throttle takes a connection of its own), per account once known.
    await ctx.throttle.email_request("reset", account_key(user, body.email))
    async with db.transaction() as tx:
        user = await users.by_email(tx, body.email)
        if user is not None and user["is_active"]:
            await send_token(tx, ctx, user, one_time_tokens.RESET_PASSWORD)
    return ok(FORGOT_ANSWER, status=202)


@router.post("/reset-password", summary="Set a new password with the mailed token; ends every session")
async def reset_password(body: ResetPasswordBody, ctx: Auth, db: Db) -> JSONResponse:
    check_password(body.password)
    password_hash = await ctx.passwords.hash(body.password)
    async with db.transaction() as tx:
        token = await one_time_tokens.usable_for_update(tx, one_time_tokens.RESET_PASSWORD, token_hash(body.token))
        if token is None:
            raise BadRequest("Invalid reset token", errors=BAD_TOKEN)
        user_id = int(token["user_id"])
        before = await users.by_id(tx, user_id, lock=True)
        assert before is not None
        await one_time_tokens.use_all(tx, user_id, one_time_tokens.RESET_PASSWORD)
        # The link reached the mailbox, which proves the address as well as a verification link would.
        await users.update(tx, user_id, {"password_hash": password_hash, "email_verified": True})
        await end_sessions(tx, ctx.verifier, "password_reset", user_id=user_id)
        if not before["email_verified"]:
            user = await users.by_id(tx, user_id)
            assert user is not None
            await publish(tx, "auth.user.updated", user_event(user), source="auth")
    return ok({"message": "Password changed; every session has been signed out."})
