"""The signed-in user's own account: profile, password, sessions, linked providers, erasure.

Every route acts on the account named by the token's `sub` and nothing else: no route here
takes a user id, so no one can reach another user's profile or sessions through them.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from tdc_shared.auth import CurrentUser
from tdc_shared.deps import Db
from tdc_shared.envelope import Conflict, NotFound, Unprocessable, no_content, ok
from tdc_shared.events import publish

from ..clock import iso
from ..context import Auth, Client, active_user
from ..models import ChangePasswordBody, ProfilePatch, user_event, user_out
from ..queries import oauth_accounts, users
from ..queries import sessions as session_rows
from ..revocation import end_sessions, end_tokens_of_user
from ..settings import PROVIDERS
from ..throttle import account_key
from .accounts import check_password

router = APIRouter(prefix="/api/v1/user", tags=["user"])

NOT_NULLABLE = ("username", "language")


@router.get("/profile", summary="My profile")
async def get_profile(claims: CurrentUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        return ok(user_out(await active_user(tx, claims)))


@router.patch("/profile", summary="Change my profile (username, display name, language, avatar, SL avatar name)")
async def patch_profile(body: ProfilePatch, claims: CurrentUser, db: Db) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True)
    nulls = {name: ["may not be null"] for name in NOT_NULLABLE if name in changes and changes[name] is None}
    if nulls:
        raise Unprocessable(errors=nulls)
    async with db.transaction() as tx:
        user = await active_user(tx, claims, lock=True)
        changes = {name: value for name, value in changes.items() if user[name] != value}
        if changes:
            try:
                await users.update(tx, claims.user_id, changes)
            except users.DuplicateUser as exc:
                raise Conflict("Username already in use", errors={exc.field: ["is already taken"]}) from exc
            user = await active_user(tx, claims)
            await publish(tx, "auth.user.updated", user_event(user), source="auth")
    return ok(user_out(user))


@router.post("/password", status_code=204, summary="Change my password; my other sessions end")
async def change_password(body: ChangePasswordBody, claims: CurrentUser, ctx: Auth, db: Db, caller: Client) -> Response:
    check_password(body.new_password, "new_password")
    async with db.transaction() as tx:
        user = await active_user(tx, claims)
    if user["password_hash"] is not None:
        # Accounts created through a provider have no password yet and may set one. The current
        # password is a sign-in secret: guesses here count against the account as sign-in failures do.
        attempt = await ctx.throttle.begin_login(account_key(user, user["email"]), caller.ip)
        if not body.current_password or not await ctx.passwords.verify(user["password_hash"], body.current_password):
            raise Unprocessable(errors={"current_password": ["is incorrect"]})
        await attempt.succeeded()
    new_hash = await ctx.passwords.hash(body.new_password)
    async with db.transaction() as tx:
        await users.update(tx, claims.user_id, {"password_hash": new_hash})
        await end_sessions(tx, ctx.verifier, "password_changed", user_id=claims.user_id, keep=claims.raw.get("sid"))
    return no_content()


@router.get("/sessions", summary="My active sessions (one per sign-in)")
async def list_sessions(claims: CurrentUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        await active_user(tx, claims)
        rows = await session_rows.active_for_user(tx, claims.user_id)
    current = claims.raw.get("sid")
    return ok(
        [
            {
                "id": row["id"],
                "created_at": iso(row["created_at"]),
                "last_used_at": iso(row["last_used_at"]),
                "expires_at": iso(row["expires_at"]),
                "user_agent": row["user_agent"],
                "ip_address": row["ip_address"],
                "current": row["id"] == current,
            }
            for row in rows
        ]
    )


@router.delete("/sessions/{session_id}", status_code=204, summary="End one of my sessions")
async def delete_session(session_id: str, claims: CurrentUser, ctx: Auth, db: Db) -> Response:
    async with db.transaction() as tx:
        await active_user(tx, claims)
        # Someone else's session id answers exactly like a made-up one.
        if len(session_id) != 32 or await session_rows.owned(tx, session_id, claims.user_id) is None:
            raise NotFound("Session not found")
        await end_sessions(tx, ctx.verifier, "signed_out", session_id=session_id, user_id=claims.user_id)
    return no_content()


@router.get("/oauth-accounts", summary="Providers linked to my account")
async def list_oauth_accounts(claims: CurrentUser, db: Db) -> JSONResponse:
    async with db.transaction() as tx:
        await active_user(tx, claims)
        rows = await oauth_accounts.for_user(tx, claims.user_id)
    return ok([{"provider": r["provider"], "email": r["email"], "linked_at": iso(r["created_at"])} for r in rows])


@router.delete("/oauth-accounts/{provider}", status_code=204, summary="Unlink a provider")
async def unlink_oauth_account(provider: str, claims: CurrentUser, db: Db) -> Response:
    if provider not in PROVIDERS:
        raise NotFound("Unknown provider")
    async with db.transaction() as tx:
        user = await active_user(tx, claims, lock=True)
        linked = {row["provider"] for row in await oauth_accounts.for_user(tx, claims.user_id)}
        if provider not in linked:
            raise NotFound("This provider is not linked to your account")
        if user["password_hash"] is None and linked == {provider}:
            raise Conflict("Set a password or link another provider first: this is your only way to sign in")
        await oauth_accounts.unlink(tx, claims.user_id, provider)
    return no_content()


@router.delete("", status_code=204, summary="Delete my account and its personal data")
async def delete_account(claims: CurrentUser, ctx: Auth, db: Db) -> Response:
    async with db.transaction() as tx:
        user = await active_user(tx, claims, lock=True)
        if user["role"] == "admin" and await users.active_admins(tx) == [claims.user_id]:
            raise Conflict("The last active admin cannot delete their account")
        # Sessions, refresh tokens, one-time tokens and provider links go with the row (ON DELETE CASCADE).
        await end_tokens_of_user(tx, ctx.verifier, claims.user_id, store=False)
        await users.delete(tx, claims.user_id)
        await publish(tx, "auth.user.deleted", {"user_id": claims.user_id}, source="auth")
    return no_content()
